import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BACKEND_CHOICES } from '@supermask/core';
import { BACKEND_NAMES, cliVersion } from '@supermask/cli';
import { cliInProcess } from './helpers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const shim = join(root, 'packages/cli/bin/supermask.js');
const tmp = () => mkdtempSync(join(tmpdir(), 'supermask-ergo-'));

const smallConfig = () => ({
  name: 'small',
  seed: 0,
  dataset: { id: 'fashion-mnist', options: { source: 'embedded' } },
  stream: { id: 'split', options: { tasks: 1, classes_per_task: 2, train_per_task: 64, test_per_task: 20 } },
  backbone: { id: 'lenet', options: { hidden: [16] } },
  strategy: { id: 'supsup', options: { mask_phase: { epochs: 1, lr: 0.01, batch_size: 32 } } },
});

function writeConfig(dir: string, config: unknown, name = 'config.json'): string {
  const file = join(dir, name);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

describe('the supermask command', () => {
  it('prints its version with --version and -V, through the committed bin shim', () => {
    const version = JSON.parse(readFileSync(join(root, 'packages/cli/package.json'), 'utf8')).version;
    expect(cliVersion()).toBe(version);
    for (const flag of ['--version', '-V']) {
      const r = spawnSync(process.execPath, [shim, flag], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });

  it('the bin shim says what to run when the CLI is not built, exit 1', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'bin'));
    copyFileSync(shim, join(dir, 'bin', 'supermask.js'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    const r = spawnSync(process.execPath, [join(dir, 'bin', 'supermask.js'), 'list'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(join(dir, 'dist', 'bin.js'));
    expect(r.stderr).toMatch(/Run `npm run build` in the repository root/);
  });

  it('marks required options in --help', async () => {
    const r = await cliInProcess(['export', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--task <n>\s+task to export \(1-based\) \(required\)/);
    expect(r.stdout).not.toMatch(/--format.*\(required\)/s);
    const e = await cliInProcess(['eval', '--help']);
    expect(e.stdout.replace(/\s+/g, ' ')).toMatch(/--task-inference <id> task_inference component: .* \(required\)/);
  });

  it('knows the same backends as core', () => {
    expect([...BACKEND_NAMES]).toEqual([...BACKEND_CHOICES]);
  });

  it('rejects an unknown --kind with the allowed kinds', async () => {
    const r = await cliInProcess(['list', '--kind', 'backbones']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/'backbones' is invalid\. Allowed choices are dataset, stream, backbone/);
  });
});

describe('config ergonomics', () => {
  it('suggests the intended field and id', async () => {
    const dir = tmp();
    const bad = smallConfig() as Record<string, any>;
    bad.strategy.options.mask_phase.epoch = 2;
    let r = await cliInProcess(['run', '--config', writeConfig(dir, bad)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('strategy.options.mask_phase.epoch: unknown field; did you mean "epochs"?');
    r = await cliInProcess(['run', '--config', writeConfig(dir, { ...smallConfig(), backbone: { id: 'lenett' } })]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/backbone\.id: no backbone is registered as "lenett"; did you mean "lenet"\?/);
    r = await cliInProcess(['run', '--config', writeConfig(dir, { ...smallConfig(), straegy: {} })]);
    expect(r.stderr).toMatch(/straegy: unknown field; did you mean "strategy"\?/);
  });

  it('names line and column of a JSON syntax error', async () => {
    const dir = tmp();
    const file = writeConfig(dir, '{\n  "seed": 0\n  "name": "x"\n}\n', 'broken.json');
    const r = await cliInProcess(['run', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:3:3: config file ${file} is not valid JSON`);
  });

  it('applies --set overrides and validates them like the file', async () => {
    const dir = tmp();
    const file = writeConfig(dir, smallConfig());
    let r = await cliInProcess(['run', '--config', file, '--set', 'strategy.options.mask_phase.epochs=-1', '--set', 'seed=3', '--out', join(dir, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('strategy.options.mask_phase.epochs: must be >= 0, got -1');
    r = await cliInProcess(['run', '--config', file, '--set', 'strategy.options.mask_phase.epochz=2', '--out', join(dir, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('strategy.options.mask_phase.epochz: unknown field; did you mean "epochs"?');
    r = await cliInProcess(['run', '--config', file, '--set', 'name.x=1', '--out', join(dir, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--set: name is "small", not an object or a list');
    const out = join(dir, 'run');
    r = await cliInProcess(['run', '--config', file, '--out', out, '--backend', 'cpu-plain', '--set', 'strategy.options.mask_phase.epochs=2', '--set', 'seed=3', '--set', 'name=renamed']);
    expect(r.code, r.stderr).toBe(0);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.config.strategy.options.mask_phase.epochs).toBe(2);
    expect(results.config.seed).toBe(3);
    expect(results.name).toBe('renamed');
    r = await cliInProcess(['run', '--resume', out, '--set', 'seed=4']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot be combined with --set/);
  });

  it('reports errors as JSON events with --log-format json', async () => {
    const dir = tmp();
    const bad = smallConfig() as Record<string, any>;
    bad.strategy.options.mask_phase.lr = 'fast';
    const file = writeConfig(dir, bad);
    const r = await cliInProcess(['run', '--config', file, '--log-format', 'json']);
    expect(r.code).toBe(2);
    const events = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const error = events.find((e) => e.event === 'error');
    expect(error).toMatchObject({ event: 'error', exit_code: 2, kind: 'ConfigError', file });
    expect(error.problems).toContain('strategy.options.mask_phase.lr: must be number, got "fast"');
    expect(typeof error.time).toBe('string');
  });
});
