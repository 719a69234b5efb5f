import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Experiment, inferenceContext, inputSize, Rng, type Logger } from '@supermask/core';
import { batchLogLikelihood, InputStatistics, PrototypeInference } from '@supermask/strategy-supsup';
import { testRegistry } from '../../cli/test/helpers.js';
import { countingForwardPasses, permutedConfig } from './helpers.js';

const registry = testRegistry();
const EXSSNET = { id: 'exssnet', options: { mask_phase: { epochs: 1, lr: 0.01, batch_size: 64 }, weight_phase: { epochs: 1, lr: 0.01, batch_size: 64 } } };

function configOf(taskInference: Record<string, unknown>) {
  return permutedConfig({ name: 'prototype', strategy: EXSSNET, task_inference: taskInference }, registry, 1000);
}

const create = (options: Record<string, unknown> = {}): PrototypeInference =>
  registry.get('task_inference', 'prototype').create(registry.resolveOptions('task_inference', { id: 'prototype', options: { batch_size: 64, ...options } }, 'task_inference'), {} as never) as PrototypeInference;

function batchOf(e: Experiment, task: number, start: number, size: number): tf.Tensor {
  const t = e.stream.tasks[task]!;
  const d = inputSize(t.inputShape);
  return tf.tensor(t.test.x.subarray(start * d, (start + size) * d), [size, ...t.inputShape]);
}

/** Random rows: n examples of `size` features, feature f centred on f / size with spread 1 + f % 3. */
function rows(n: number, size: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * size }, (_, i) => (i % size) / size + (1 + ((i % size) % 3)) * (rng.next() - 0.5));
}

describe('input statistics', () => {
  it('are the float64 mean and variance of the rows, whatever order the rows and chunks come in', () => {
    const size = 7;
    const n = 2500; // three chunks of up to 1024 rows
    const x = rows(n, size, 1);
    const stats = InputStatistics.of(x, n, size);
    expect(stats.n).toBe(n);
    for (let f = 0; f < size; f++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += x[i * size + f]!;
      const mean = sum / n;
      let sq = 0;
      for (let i = 0; i < n; i++) sq += (x[i * size + f]! - mean) ** 2;
      expect(stats.mean[f]).toBeCloseTo(mean, 12);
      expect(stats.variance()[f]).toBeCloseTo(sq / n, 12);
    }
    // Reversed rows, and parts merged in every order, give the same statistics.
    const reversed = new Float32Array(n * size);
    for (let i = 0; i < n; i++) reversed.set(x.subarray(i * size, (i + 1) * size), (n - 1 - i) * size);
    const parts = [
      [0, 300],
      [300, 1900],
      [1900, 2500],
    ].map(([a, b]) => InputStatistics.of(x.slice(a! * size, b! * size), b! - a!, size));
    const merged = [InputStatistics.of(reversed, n, size), parts[0]!.merge(parts[1]!).merge(parts[2]!), parts[2]!.merge(parts[0]!).merge(parts[1]!), parts[1]!.merge(parts[2]!.merge(parts[0]!))];
    for (const m of merged) {
      expect(m.n).toBe(n);
      for (let f = 0; f < size; f++) {
        expect(Math.abs(m.mean[f]! - stats.mean[f]!)).toBeLessThan(1e-12);
        expect(Math.abs(m.m2[f]! - stats.m2[f]!)).toBeLessThan(1e-9);
      }
    }
    expect(() => InputStatistics.of(x, n + 1, size)).toThrow(/input statistics: 17500 values are not 2501 examples of 7 features/);
  });

  it("scores a batch by its log-likelihood under each task's diagonal Gaussian (checked against the sum of log densities)", async () => {
    const size = 5;
    const inference = create({ variance_floor: 0.1 });
    for (const task of [0, 1]) inference.setStatistics(task, InputStatistics.of(rows(400, size, 10 + task).map((v) => v * (1 + task)), 400, size));
    const x = rows(16, size, 3);
    const batch = tf.tensor2d(x, [16, size]);
    const scores = await inference.scores(batch, [0, 1]);
    batch.dispose();
    for (const task of [0, 1]) {
      const s = inference.statistics(task)!;
      const v = s.variance();
      const floor = (0.1 * v.reduce((a, b) => a + b, 0)) / size;
      let ll = 0;
      for (let i = 0; i < 16; i++) for (let f = 0; f < size; f++) ll += -0.5 * ((x[i * size + f]! - s.mean[f]!) ** 2 / (v[f]! + floor) + Math.log(v[f]! + floor));
      expect(scores[task]).toBeCloseTo(ll, 8);
    }
    expect(batchLogLikelihood(new Float64Array(2), new Float64Array(2), 0, [])).toHaveLength(0);
  });

  it('round-trips through saveState/loadState exactly and rejects state that does not fit', () => {
    const a = create();
    a.setStatistics(0, InputStatistics.of(rows(300, 6, 4), 300, 6));
    a.setStatistics(2, InputStatistics.of(rows(200, 6, 5), 200, 6));
    const state = a.saveState();
    const b = create();
    b.loadState(state);
    expect(b.hasLearned(0) && b.hasLearned(2) && !b.hasLearned(1)).toBe(true);
    for (const t of [0, 2]) {
      expect(b.statistics(t)!.n).toBe(a.statistics(t)!.n);
      expect(Array.from(b.statistics(t)!.mean)).toEqual(Array.from(a.statistics(t)!.mean));
      expect(Array.from(b.statistics(t)!.m2)).toEqual(Array.from(a.statistics(t)!.m2));
    }
    expect(() => b.loadState({ json: null })).toThrow(/expected \{ tasks: \[\{ task, n \}\] \}/);
    expect(() => b.loadState({ json: { tasks: [{ task: 0, n: 300 }] }, tensors: {} })).toThrow(/tensor "0\/mean" is missing/);
    expect(() => b.loadState({ json: { tasks: [{ task: 0, n: 300 }] }, tensors: { '0/mean': { dtype: 'F32', shape: [6], bytes: new Uint8Array(24) }, '0/m2': state.tensors!['0/m2']! } })).toThrow(/tensor "0\/mean" is F32 \[6\], expected F64/);
    expect(() => b.loadState({ json: { tasks: [{ task: -1, n: 3 }] } })).toThrow(/expected a task index and a positive example count/);
    // A failed load leaves the statistics as they were.
    expect(b.hasLearned(2)).toBe(true);
  });
});

describe('prototype task inference', () => {
  let dir: string;
  let experiment: Experiment;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'supermask-prototype-'));
    experiment = await Experiment.create({ config: configOf({ id: 'prototype', options: { batch_size: 64 } }), registry, outDir: dir });
    await experiment.run();
  });

  afterAll(() => {
    experiment?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("learns every task's training-input statistics while the run trains and identifies every test batch of a 3-task ExSSNeT model", async () => {
    const inference = experiment.inference as PrototypeInference;
    expect(inference.id).toBe('prototype');
    for (const t of experiment.stream.tasks) {
      const expected = InputStatistics.of(t.train.x, t.train.n, inputSize(t.inputShape));
      expect(inference.statistics(t.index)!.n).toBe(1000);
      expect(Array.from(inference.statistics(t.index)!.mean)).toEqual(Array.from(expected.mean));
    }
    expect(inference.candidates).toBe(1);
    const ctx = inferenceContext(experiment.backbone, experiment.finishedTasks);
    const verified = create({ candidates: 2 });
    for (const t of [0, 1, 2]) verified.setStatistics(t, inference.statistics(t)!);
    const before = tf.memory().numTensors;
    for (let j = 0; j < 3; j++) {
      for (const start of [0, 64, 192]) {
        const x = batchOf(experiment, j, start, 64);
        expect(await inference.infer(x, -1, ctx)).toBe(j);
        expect(await verified.infer(x, -1, ctx)).toBe(j);
        expect((await inference.shortlist(x, [0, 1, 2]))).toEqual([j]);
        expect((await verified.shortlist(x, [0, 1, 2]))[0]).toBe(j);
        x.dispose();
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    const summary = await experiment.evaluateTaskInference();
    expect(summary.method).toBe('prototype');
    expect(summary.task_id_accuracy).toBe(1);
    expect(summary.average_accuracy).toBe(summary.average_accuracy_true);
  });

  it('costs no forward pass per batch (`candidates` passes with more than 1), whatever the number of learned tasks', async () => {
    const inference = experiment.inference as PrototypeInference;
    const backbone = experiment.backbone;
    await countingForwardPasses(backbone, async (calls, reset) => {
      const x = batchOf(experiment, 1, 0, 32);
      for (const candidates of [1, 2, 3]) {
        const method = create({ candidates });
        for (const t of [0, 1, 2]) method.setStatistics(t, inference.statistics(t)!);
        for (const learned of [2, 3]) {
          reset();
          expect(await method.infer(x, -1, inferenceContext(backbone, learned))).toBe(1);
          expect(calls()).toBe(candidates === 1 ? 0 : Math.min(candidates, learned));
        }
      }
      x.dispose();
    });
  });

  it('resumes from its checkpoint with the same statistics and the same inferences; a checkpoint without them is relearned from the data with a warning', async () => {
    const resumed = await Experiment.resume(dir, { registry });
    try {
      const [a, b] = [experiment.inference as PrototypeInference, resumed.inference as PrototypeInference];
      for (const t of [0, 1, 2]) expect(Array.from(b.statistics(t)!.m2)).toEqual(Array.from(a.statistics(t)!.m2));
      const ctx = [experiment, resumed].map((e) => inferenceContext(e.backbone, 3));
      for (let j = 0; j < 3; j++) {
        const x = batchOf(experiment, j, 128, 64);
        expect(await b.infer(x, -1, ctx[1]!)).toBe(await a.infer(x, -1, ctx[0]!));
        expect(Array.from(await b.scores(x, [0, 1, 2]))).toEqual(Array.from(await a.scores(x, [0, 1, 2])));
        x.dispose();
      }
    } finally {
      resumed.dispose();
    }
    const manifest = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as { components: Record<string, unknown> };
    delete manifest.components.task_inference;
    writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify(manifest));
    const warnings: string[] = [];
    const logger: Logger = { info: () => {}, warn: (m: string) => void warnings.push(m) };
    const stripped = await Experiment.resume(dir, { registry, logger });
    try {
      expect((stripped.inference as PrototypeInference).hasLearned(0)).toBe(false);
      const summary = await stripped.evaluateTaskInference();
      expect(warnings.join('\n')).toMatch(/task inference "prototype" has no state for task\(s\) 1, 2, 3 \(a checkpoint saved without it\): learning it from the stream's training data/);
      expect(summary.task_id_accuracy).toBe(1);
      const x = batchOf(stripped, 0, 0, 8);
      await expect(create().infer(x, -1, inferenceContext(stripped.backbone, 3))).rejects.toThrow(/task inference "prototype" has no input statistics for task 1/);
      x.dispose();
    } finally {
      stripped.dispose();
    }
  });

  it("evaluated under other options (supermask eval --task-inference prototype), the run's prototype keeps the statistics it learned while training", async () => {
    const learnTask = vi.spyOn(PrototypeInference.prototype, 'learnTask');
    try {
      const summary = await experiment.evaluateTaskInference({ id: 'prototype', options: { batch_size: 64, candidates: 2 } });
      expect(learnTask).not.toHaveBeenCalled();
      expect(summary.task_id_accuracy).toBe(1);
    } finally {
      learnTask.mockRestore();
    }
  });

});
