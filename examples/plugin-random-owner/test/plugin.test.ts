import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPlugins, OwnershipLedger, Registry } from '@supermask/core';
import { manifest, RandomOwnerPolicy } from '../src/index.js';

const pluginDir = fileURLToPath(new URL('..', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'packages/cli/dist/bin.js');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };

/** A temporary project. */
function tempProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'supermask-plugin-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'plugin-user', private: true, type: 'module' }));
  return dir;
}

/** Puts the built workspace @supermask/core next to the installed plugin (its peer dependency). */
function linkCore(project: string): void {
  mkdirSync(join(project, 'node_modules', '@supermask'), { recursive: true });
  symlinkSync(join(root, 'packages', 'core'), join(project, 'node_modules', '@supermask', 'core'), 'dir');
}

const config = (plugins: string[]) => ({
  name: 'with-plugin',
  seed: 0,
  plugins,
  dataset: { id: 'fashion-mnist' },
  stream: { id: 'split', options: { tasks: 3, train_per_task: 300, test_per_task: 100 } },
  backbone: { id: 'lenet', options: { hidden: [64, 32] } },
  strategy: { id: 'exssnet', options: { mask_phase: { epochs: 1, lr: 0.01 }, weight_phase: { epochs: 1, lr: 0.001 } } },
  ownership_policy: { id: 'random-owner', options: { fraction: 0.25, seed: 7 } },
});

describe('random-owner policy', () => {
  it('lets a task train a seeded random fraction of its exclusive weights only', () => {
    const policy = new RandomOwnerPolicy({ fraction: 0.25, seed: 1 });
    const n = 4000;
    const m0 = Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : 0));
    const m1 = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const layers = [{ name: 'fc', shape: [n], fanIn: n, fanOut: 1, size: n }];
    policy.recordTask(0, [m0], layers);
    const e1 = policy.editable(0, 1, m1);
    const exclusive = new OwnershipLedger('x');
    exclusive.record(0, [m0], ['fc']);
    const full = exclusive.exclusive(0, m1);
    let kept = 0;
    let possible = 0;
    for (let i = 0; i < n; i++) {
      if (e1[i]) expect(full[i]).toBe(1);
      kept += e1[i]!;
      possible += full[i]!;
    }
    expect(kept / possible).toBeGreaterThan(0.18);
    expect(kept / possible).toBeLessThan(0.32);
    expect(policy.editable(0, 1, m1)).toEqual(e1);
  });
});

describe('publishing the plugin', () => {
  it('packs with npm pack, installs into a project and runs an experiment whose config names it', () => {
    const project = tempProject();
    const packed = execFileSync(npm, ['pack', '--pack-destination', project, '--silent'], { cwd: pluginDir, encoding: 'utf8', env }).trim().split('\n').pop()!;
    const tarball = join(project, packed);
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' });
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/README.md');
    execFileSync(npm, ['install', tarball, '--offline', '--no-save', '--legacy-peer-deps', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: project, env, stdio: 'pipe' });
    expect(readdirSync(join(project, 'node_modules'))).toContain('supermask-plugin-random-owner');
    linkCore(project);
    writeFileSync(join(project, 'config.json'), JSON.stringify(config(['supermask-plugin-random-owner'])));
    const r = spawnSync(process.execPath, [bin, 'run', '--config', 'config.json', '--out', 'run'], { cwd: project, encoding: 'utf8', env });
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.status).toBe(0);
    const results = JSON.parse(readFileSync(join(project, 'run', 'results.json'), 'utf8'));
    expect(results.config.plugins).toEqual(['supermask-plugin-random-owner']);
    expect(results.config.ownership_policy).toEqual({ id: 'random-owner', options: { fraction: 0.25, seed: 7 } });
    expect(results.ownership.policy).toBe('random-owner');
    expect(results.forgetting).toBe(0);
    // The component shows up in `supermask list` with the plugin loaded.
    const list = spawnSync(process.execPath, [bin, 'list', '--kind', 'ownership_policy', '--plugin', 'supermask-plugin-random-owner'], { cwd: project, encoding: 'utf8', env });
    expect(list.stdout).toMatch(/random-owner .*\[supermask-plugin-random-owner\]/);
  }, 180_000);

  it('refuses, before anything runs, a plugin for another core version, a bad manifest or a missing package', async () => {
    const project = tempProject();
    linkCore(project);
    const make = (name: string, manifestSource: string) => {
      const dir = join(project, 'node_modules', name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', exports: './index.js' }));
      writeFileSync(join(dir, 'index.js'), `export const manifest = ${manifestSource};\nexport function register(registry) {}\n`);
    };
    make('plugin-future', JSON.stringify({ ...manifest, id: 'future', core: '^9.0.0' }));
    make('plugin-bad-schema', JSON.stringify({ ...manifest, id: 'bad', schema: { type: 'frobnicate' } }));
    make('plugin-no-kind', JSON.stringify({ id: 'x', core: '*', schema: {} }));
    const cases: [string, RegExp][] = [
      ['plugin-future', /plugins\[0\] \(plugin-future\) manifest\.core: ownership_policy "future" supports @supermask\/core \^9\.0\.0, but the installed version is 0\.1\.0/],
      ['plugin-bad-schema', /manifest\.schema: not a valid JSON Schema/],
      ['plugin-no-kind', /manifest\.kind: required field is missing/],
      ['plugin-absent', /cannot find plugin-absent in node_modules/],
    ];
    for (const [name, message] of cases) {
      await expect(loadPlugins([name], new Registry(), [project])).rejects.toThrow(message);
      writeFileSync(join(project, 'config.json'), JSON.stringify(config([name])));
      const r = spawnSync(process.execPath, [bin, 'run', '--config', 'config.json', '--out', 'run'], { cwd: project, encoding: 'utf8', env });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(readdirSync(project)).not.toContain('run');
    }
  });
});
