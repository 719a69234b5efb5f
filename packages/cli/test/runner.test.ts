import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Experiment, resolveConfig, type Observer } from '@supermask/core';
import { blobsConfig, testRegistry } from './helpers.js';

async function runBlobs(seed = 0, observers: Observer[] = [], outDir?: string) {
  const registry = testRegistry();
  const config = resolveConfig(blobsConfig({ seed }), registry);
  const experiment = await Experiment.create({ config, registry, observers, outDir });
  try {
    return { results: await experiment.run(), experiment };
  } finally {
    experiment.dispose();
  }
}

describe('experiment runner with SupSup', () => {
  it('learns every task, forgets nothing and writes results.json and accuracy_matrix.csv', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'supermask-run-'));
    const { results } = await runBlobs(0, [], outDir);
    expect(results.accuracy_matrix).toHaveLength(3);
    expect(results.accuracy_matrix[0]![1]).toBeNull();
    for (let j = 0; j < 3; j++) expect(results.accuracy_matrix[2]![j]!).toBeGreaterThan(0.8);
    expect(results.forgetting).toBe(0);
    for (let j = 0; j < 2; j++) expect(results.accuracy_matrix[2]![j]).toBe(results.accuracy_matrix[j]![j]);
    expect(['cpu', 'cpu-ort']).toContain(results.backend);
    expect(results.versions['@tensorflow/tfjs-core']).toMatch(/^\d+\.\d+/);
    expect(results.config.mask_scorer).toEqual({ id: 'topk', options: { density: 0.3, allocation: 'uniform' } });
    expect(results.config.ownership_policy.id).toBe('frozen');
    expect(results.tasks[0]!.classes).toEqual([0, 1]);
    expect(results.tasks[0]!.phases[0]!.name).toBe('mask');
    expect(results.tasks[0]!.phases[0]!.samples_per_second).toBeGreaterThan(0);
    // LeNet has no batch norm: nothing to recalibrate.
    expect(results.tasks[0]!.batch_norm_recalibration_seconds).toBeUndefined();
    // Compact task state: 1 bit per weight (16x32 + 32x16 + 16x2 weights).
    expect(results.tasks[0]!.state_bytes.masks).toBe(Math.ceil(512 / 8) + Math.ceil(512 / 8) + Math.ceil(32 / 8));
    const written = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8'));
    expect(written.accuracy_matrix).toEqual(results.accuracy_matrix);
    expect(written.average_accuracy).toBeCloseTo(results.accuracy_matrix[2]!.reduce((s: number, v) => s + (v as number), 0) / 3, 12);
    const csv = readFileSync(join(outDir, 'accuracy_matrix.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('after_task,task_1,task_2,task_3');
    expect(csv[1]!.split(',')[2]).toBe('');
  });

  it('gives the same accuracy matrix for the same seed, and another for another seed', async () => {
    const a = await runBlobs(5);
    const b = await runBlobs(5);
    const c = await runBlobs(6);
    expect(b.results.accuracy_matrix).toEqual(a.results.accuracy_matrix);
    expect(b.results.tasks.map((t) => t.phases[0]!.final_loss)).toEqual(a.results.tasks.map((t) => t.phases[0]!.final_loss));
    expect(c.results.tasks.map((t) => t.phases[0]!.final_loss)).not.toEqual(a.results.tasks.map((t) => t.phases[0]!.final_loss));
  });

  it('does not grow tf.memory().numTensors across tasks beyond the per-task state', async () => {
    const counts: number[] = [];
    const probe: Observer = { id: 'probe', afterTask: () => void counts.push(tf.memory().numTensors) };
    const before = tf.memory().numTensors;
    await runBlobs(1, [probe]);
    // A finished task keeps only its bit-packed mask (outside tfjs): no tensor per task for LeNet.
    expect(counts[1]! - counts[0]!).toBe(0);
    expect(counts[2]! - counts[1]!).toBe(0);
    // Everything is released by dispose().
    expect(tf.memory().numTensors).toBe(before);
  });

  it('emits plugin events in order', async () => {
    const events: string[] = [];
    const names = ['beforeExperiment', 'beforeTask', 'beforePhase', 'beforeEpoch', 'afterEpoch', 'afterPhase', 'beforeEval', 'afterEval', 'afterTask', 'afterExperiment'] as const;
    const plugin: Observer = Object.fromEntries([['id', 'events'], ...names.map((n) => [n, () => void events.push(n)])]) as unknown as Observer;
    let batches = 0;
    (plugin as { afterBatch?: () => void }).afterBatch = () => void batches++;
    await runBlobs(2, [plugin]);
    expect(events[0]).toBe('beforeExperiment');
    expect(events.at(-1)).toBe('afterExperiment');
    expect(events.slice(1, 9)).toEqual(['beforeTask', 'beforePhase', 'beforeEpoch', 'afterEpoch', 'beforeEpoch', 'afterEpoch', 'beforeEpoch', 'afterEpoch']);
    // 120 training examples per task, batch 16 -> 8 batches x 3 epochs x 3 tasks.
    expect(batches).toBe(72);
  });
});

describe('training augmentation', () => {
  it('augments training batches reproducibly from the seed', async () => {
    const registry = testRegistry();
    const base = {
      seed: 1,
      backend: 'cpu',
      dataset: { id: 'fashion-mnist' },
      stream: { id: 'split', options: { tasks: 1, train_per_task: 256, test_per_task: 64, pad_to: [32, 32] } },
      backbone: { id: 'lenet', options: { hidden: [32] } },
      strategy: { id: 'supsup', options: { mask_phase: { epochs: 2, batch_size: 32 } } },
    };
    const losses = async (augmentation?: Record<string, unknown>) => {
      const config = resolveConfig({ ...base, ...(augmentation ? { augmentation } : {}) }, registry);
      const experiment = await Experiment.create({ config, registry });
      try {
        const results = await experiment.run();
        expect(results.config.augmentation).toEqual(augmentation ? { crop_padding: 4, horizontal_flip: true } : { crop_padding: 0, horizontal_flip: false });
        return results.tasks[0]!.phases[0]!.final_loss;
      } finally {
        experiment.dispose();
      }
    };
    const plain = await losses();
    const a = await losses({ crop_padding: 4, horizontal_flip: true });
    const b = await losses({ crop_padding: 4, horizontal_flip: true });
    expect(b).toBe(a);
    expect(a).not.toBe(plain);
  });
});
