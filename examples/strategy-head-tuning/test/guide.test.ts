import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createRegistry } from '@supermask/cli';
import { resolveConfig } from '@supermask/core';
import { register } from '../src/index.js';

const here = fileURLToPath(new URL('..', import.meta.url));
const guide = readFileSync(fileURLToPath(new URL('../../../docs/write-a-strategy.md', import.meta.url)), 'utf8');

describe('docs/write-a-strategy.md', () => {
  it.each(['src/index.ts', 'package.json', 'config.json', 'test/head-tuning.test.ts'])('shows %s exactly as it is', (file) => {
    const lang = file.endsWith('.json') ? 'json' : 'ts';
    expect(guide).toContain('```' + lang + '\n' + readFileSync(here + file, 'utf8') + '```');
  });

  it("its recipe snippet is a valid config with the plugin's phase kind", () => {
    const snippet = JSON.parse(/```json\n(\{ "strategy": \{ "id": "recipe"[\s\S]*?)```/.exec(guide)![1]!);
    const registry = createRegistry();
    register(registry);
    const { plugins: _plugins, ...base } = JSON.parse(readFileSync(here + 'config.json', 'utf8'));
    const config = resolveConfig({ ...base, ...snippet }, registry);
    expect(config.strategy.options.phases.map((p: { name: string }) => p.name)).toEqual(['mask', 'head-weights']);
    expect(config.ownership_policy.id).toBe('exclusive');
  });
});
