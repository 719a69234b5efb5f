import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, Experiment, resolveConfig, WandbObserver, type Observer, type WandbSdk } from '@supermask/core';
import { readScalars } from '../../core/test/tfrecord-reader.js';
import { blobsConfig, testRegistry } from './helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'supermask-loggers-'));

const config = (observers: { id: string; options?: Record<string, unknown> }[]) =>
  blobsConfig({
    stream: { id: 'split', options: { tasks: 2, classes_per_task: 2 } },
    strategy: { id: 'supsup', options: { mask_phase: { epochs: 2, lr: 0.05, batch_size: 16 } } },
    evaluation: { each_epoch: true },
    observers,
  });

async function run(raw: Record<string, unknown>, outDir: string, observers: Observer[] = []) {
  const registry = testRegistry();
  const experiment = await Experiment.create({ config: resolveConfig(raw, registry), registry, outDir, observers });
  try {
    return await experiment.run();
  } finally {
    experiment.dispose();
  }
}

/** The scalars metrics.csv implies, tagged and stepped as the logger observers name them. */
function scalarsOfMetricsCsv(file: string): { tag: string; step: number; value: number }[] {
  const [header, ...rows] = readFileSync(file, 'utf8').trim().split('\n');
  const columns = header!.split(',');
  const out: { tag: string; step: number; value: number }[] = [];
  for (const row of rows) {
    const r = Object.fromEntries(row.split(',').map((v, i) => [columns[i]!, v]));
    if (r.event === 'epoch') {
      for (const name of ['loss', 'train_accuracy', 'test_accuracy', 'lr', 'samples_per_second']) {
        if (r[name] !== '') out.push({ tag: `task${r.task}/${r.phase}/${name}`, step: Number(r.epoch), value: Number(r[name]) });
      }
    } else {
      const accuracies = r.accuracies!.split(' ').map(Number);
      accuracies.forEach((value, j) => out.push({ tag: `accuracy/task${j + 1}`, step: Number(r.task), value }));
      out.push({ tag: 'average_accuracy', step: Number(r.task), value: accuracies.reduce((a, b) => a + b, 0) / accuracies.length });
    }
  }
  return out;
}

describe('logger observers', () => {
  it('tensorboard writes an event file (checked by an independent reader) whose scalars are those of metrics.csv', async () => {
    const dir = tmp();
    const results = await run(config([{ id: 'metrics-csv' }, { id: 'tensorboard' }]), dir);
    expect(results.config.observers).toEqual([{ id: 'metrics-csv', options: {} }, { id: 'tensorboard', options: { directory: 'tensorboard' } }]);
    const files = readdirSync(join(dir, 'tensorboard'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^events\.out\.tfevents\.\d+\./);
    const written = readScalars(join(dir, 'tensorboard', files[0]!));
    const expected = scalarsOfMetricsCsv(join(dir, 'metrics.csv'));
    // 2 tasks x 2 epochs x 5 scalars (test accuracy each epoch), then 2 + 3 evaluation scalars.
    expect(expected).toHaveLength(2 * 2 * 5 + 2 + 3);
    expect(written).toEqual(expected.map((s) => ({ ...s, value: Math.fround(s.value) })));
    expect(written.find((s) => s.tag === 'accuracy/task1' && s.step === 2)!.value).toBe(Math.fround(results.accuracy_matrix[1]![0]!));
  }, 60_000);

  it('wandb logs the same scalars through the SDK: init with the run id and config, one log per epoch and evaluation, finish', async () => {
    const calls: { method: string; arg?: unknown }[] = [];
    const sdk: WandbSdk = {
      init: async (options) => void calls.push({ method: 'init', arg: options }),
      log: (data) => void calls.push({ method: 'log', arg: data }),
      finish: async () => void calls.push({ method: 'finish' }),
    };
    const dir = tmp();
    const results = await run(config([{ id: 'metrics-csv' }]), dir, [new WandbObserver({ project: 'p', tags: ['t'] }, async () => sdk)]);
    expect(calls[0]).toEqual({ method: 'init', arg: { project: 'p', name: results.run_id, config: results.config, tags: ['t'] } });
    expect(calls.at(-1)).toEqual({ method: 'finish' });
    const logged = calls.slice(1, -1).map((c) => c.arg as Record<string, number>);
    expect(logged).toHaveLength(2 * 2 + 2);
    const expected = scalarsOfMetricsCsv(join(dir, 'metrics.csv'));
    const fromLogs = logged.flatMap((data) => {
      const step = 'epoch' in data ? data.epoch! : data.task!;
      return Object.entries(data).filter(([tag]) => tag.includes('/') || tag === 'average_accuracy').map(([tag, value]) => ({ tag, step, value }));
    });
    expect(fromLogs).toEqual(expected);
  }, 60_000);

  const installed = (() => {
    try {
      createRequire(import.meta.url).resolve('@wandb/sdk');
      return true;
    } catch {
      return false;
    }
  })();
  it.skipIf(installed)('wandb without @wandb/sdk installed: the run fails with a config error saying what to install', async () => {
    const error = await run(config([{ id: 'wandb' }]), tmp()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('npm install @wandb/sdk');
  }, 60_000);
});
