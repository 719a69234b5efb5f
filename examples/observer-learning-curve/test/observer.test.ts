import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LearningCurveObserver, type CurvePoint } from '../src/index.js';

const pluginDir = fileURLToPath(new URL('..', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'packages/cli/dist/bin.js');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };

describe('learning-curve observer', () => {
  it('keeps a point per epoch and restores them from its saved state', () => {
    const observer = new LearningCurveObserver({ file: 'curve.json' });
    const phase = { name: 'mask', epochs: 2, optimizer: 'adam' as const, lr: 0.01, momentum: 0.9, schedule: 'constant' as const, batch_size: 8 };
    const task = { index: 0 } as never;
    for (const epoch of [0, 1]) observer.afterEpoch({ task, phase, index: 0, batchesPerEpoch: 3, epoch, loss: 1 - epoch / 2, trainAccuracy: 0.5, samplesPerSecond: 10, lr: 0.01 });
    const copy = new LearningCurveObserver({ file: 'curve.json' });
    copy.loadState(JSON.parse(JSON.stringify(observer.saveState())));
    expect(copy.points).toEqual(observer.points);
    expect(copy.points.map((p) => [p.task, p.phase, p.epoch, p.loss])).toEqual([
      [1, 'mask', 1, 1],
      [1, 'mask', 2, 0.5],
    ]);
  });
});

describe('publishing the observer', () => {
  it('packs with npm pack, installs into a project and runs an experiment whose config names it in observers', () => {
    const project = mkdtempSync(join(tmpdir(), 'supermask-observer-'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'observer-user', private: true, type: 'module' }));
    const packed = execFileSync(npm, ['pack', '--pack-destination', project, '--silent'], { cwd: pluginDir, encoding: 'utf8', env }).trim().split('\n').pop()!;
    const tarball = join(project, packed);
    expect(execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })).toContain('package/dist/index.js');
    execFileSync(npm, ['install', tarball, '--offline', '--no-save', '--legacy-peer-deps', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: project, env, stdio: 'pipe' });
    expect(readdirSync(join(project, 'node_modules'))).toContain('supermask-observer-learning-curve');
    // The built workspace @supermask/core, the plugin's peer dependency.
    mkdirSync(join(project, 'node_modules', '@supermask'), { recursive: true });
    symlinkSync(join(root, 'packages', 'core'), join(project, 'node_modules', '@supermask', 'core'), 'dir');
    const config = {
      name: 'with-observer',
      seed: 0,
      plugins: ['supermask-observer-learning-curve'],
      dataset: { id: 'fashion-mnist' },
      stream: { id: 'split', options: { tasks: 2, train_per_task: 200, test_per_task: 100 } },
      backbone: { id: 'lenet', options: { hidden: [32] } },
      strategy: { id: 'supsup', options: { mask_phase: { epochs: 2, lr: 0.01, batch_size: 32 } } },
      observers: [{ id: 'learning-curve', options: { file: 'curve.json' } }, { id: 'metrics-csv' }],
    };
    writeFileSync(join(project, 'config.json'), JSON.stringify(config));
    const r = spawnSync(process.execPath, [bin, 'run', '--config', 'config.json', '--out', 'run'], { cwd: project, encoding: 'utf8', env });
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.status).toBe(0);
    const curve = JSON.parse(readFileSync(join(project, 'run', 'curve.json'), 'utf8')) as { finished_tasks: number; points: CurvePoint[] };
    expect(curve.finished_tasks).toBe(2);
    // The same epochs and losses as the built-in metrics.csv.
    const epochs = readFileSync(join(project, 'run', 'metrics.csv'), 'utf8').trimEnd().split('\n').slice(1).map((l) => l.split(',')).filter((c) => c[0] === 'epoch');
    expect(curve.points.map((p) => [String(p.task), p.phase, String(p.epoch), String(p.loss)])).toEqual(epochs.map((c) => [c[1], c[2], c[3], c[4]]));
    expect(readdirSync(join(project, 'run'))).not.toContain('events.jsonl');
    const results = JSON.parse(readFileSync(join(project, 'run', 'results.json'), 'utf8'));
    expect(results.config.observers[0]).toEqual({ id: 'learning-curve', options: { file: 'curve.json' } });
    const list = spawnSync(process.execPath, [bin, 'list', '--kind', 'observer', '--plugin', 'supermask-observer-learning-curve'], { cwd: project, encoding: 'utf8', env });
    expect(list.stdout).toMatch(/learning-curve .*\[supermask-observer-learning-curve\]/);
  }, 180_000);
});
