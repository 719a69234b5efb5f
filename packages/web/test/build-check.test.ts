import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type InlineConfig } from 'vite';
import { describe, expect, it } from 'vitest';
import { nodeBuiltin, nodeBuiltinGuard, REPO_ROOT } from '../build-check.js';
import { workspaceAliases } from '../vite.config.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** A library build of `entries` in memory (nothing written) with the guard. */
function buildEntries(entries: string[]) {
  const config: InlineConfig = {
    configFile: false,
    logLevel: 'silent',
    resolve: { alias: workspaceAliases() },
    plugins: [nodeBuiltinGuard()],
    build: { write: false, minify: false, rollupOptions: { input: entries, preserveEntrySignatures: 'strict' } },
  };
  return build(config);
}

describe('the browser build check', () => {
  it('recognises Node built-ins with and without the node: prefix, and nothing else', () => {
    expect(nodeBuiltin('fs')).toBe('node:fs');
    expect(nodeBuiltin('node:zlib')).toBe('node:zlib');
    expect(nodeBuiltin('fs/promises')).toBe('node:fs/promises');
    expect(nodeBuiltin('@supermask/core')).toBeUndefined();
    expect(nodeBuiltin('vega')).toBeUndefined();
  });

  it('passes for the browser entries of core, datasets and report and every strategy, backbone and KKT package the page uses', async () => {
    const entries = ['core/src/browser.ts', 'datasets/src/browser.ts', 'report/src/browser.ts', 'strategy-supsup/src/index.ts', 'strategy-exssnet/src/index.ts', 'strategy-wsn/src/index.ts', 'kkt/src/index.ts', 'backbone-mlp/src/index.ts', 'backbone-resnet/src/index.ts'];
    await expect(buildEntries(entries.map((e) => join(REPO_ROOT, 'packages', e)))).resolves.toBeDefined();
  });

  it('fails on a module that imports a Node built-in, naming the module and the import', async () => {
    await expect(buildEntries([join(FIXTURES, 'uses-zlib.ts')])).rejects.toThrow(/packages\/web\/test\/fixtures\/uses-zlib\.ts imports the Node built-in "node:zlib"/);
  });

  it("fails on core's Node entry (run-directory files, checkpoints on disk)", async () => {
    await expect(buildEntries([join(REPO_ROOT, 'packages/core/src/index.ts')])).rejects.toThrow(/packages\/core\/src\/[a-z-]+\.ts imports the Node built-in/);
  });

  it("fails on datasets' Node entry (file lookup, node:zlib)", async () => {
    await expect(buildEntries([join(REPO_ROOT, 'packages/datasets/src/index.ts')])).rejects.toThrow(/packages\/datasets\/src\/[a-z-]+\.ts imports the Node built-in/);
  });
});
