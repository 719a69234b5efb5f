import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedContext, inferenceContext, inputSize, type Experiment, type ExperimentResults } from '@supermask/core';
import { BinaryInference, entropyGradient, ExhaustiveInference, OneShotInference, superpositionEntropy } from '@supermask/strategy-supsup';
import { trainPermuted } from './helpers.js';

let experiment: Experiment;
let results: ExperimentResults;

beforeAll(async () => {
  ({ experiment, results } = await trainPermuted({ task_inference: { id: 'oneshot', options: { batch_size: 64 } } }));
});

afterAll(() => experiment?.dispose());

function batchOf(task: number, start: number, size: number): tf.Tensor {
  const t = experiment.stream.tasks[task]!;
  const d = inputSize(t.inputShape);
  return tf.tensor(t.test.x.subarray(start * d, (start + size) * d), [size, ...t.inputShape]);
}

describe('task inference', () => {
  it('identifies the task of a batch with one-shot, binary and exhaustive inference', async () => {
    const oneshot = new OneShotInference({ batch_size: 64 });
    const binary = new BinaryInference({ batch_size: 64 });
    const exhaustive = new ExhaustiveInference({ batch_size: 64 });
    const ctx = inferenceContext(experiment.backbone, experiment.finishedTasks);
    expect(ctx.learned).toBe(3);
    for (let j = 0; j < 3; j++) {
      for (const start of [0, 64, 128]) {
        const x = batchOf(j, start, 64);
        expect(await oneshot.infer(x, -1, ctx)).toBe(j);
        expect(await binary.infer(x, -1, ctx)).toBe(j);
        expect(await exhaustive.infer(x, -1, ctx)).toBe(j);
        x.dispose();
      }
    }
  });

  it('computes the entropy gradient w.r.t. alpha as finite differences do', async () => {
    const ctx = inferenceContext(experiment.backbone, experiment.finishedTasks);
    const x = batchOf(1, 0, 32);
    const candidates = [0, 1, 2];
    const alpha = Float32Array.from([0.3, 0.45, 0.25]);
    const grad = await entropyGradient(x, alpha, candidates, ctx);
    const h = 1e-3;
    const entropyAt = (a: Float32Array) => tf.tidy(() => superpositionEntropy(x, tf.tensor1d(a), candidates, ctx).dataSync()[0]!);
    for (let i = 0; i < 3; i++) {
      const plus = Float32Array.from(alpha);
      const minus = Float32Array.from(alpha);
      plus[i] += h;
      minus[i] -= h;
      const fd = (entropyAt(plus) - entropyAt(minus)) / (2 * h);
      expect(Math.abs(grad[i]! - fd)).toBeLessThan(2e-2 * Math.max(1, Math.abs(fd)));
    }
    // The true task's coefficient has the most negative gradient at the uniform point.
    const uniform = await entropyGradient(x, new Float32Array(3).fill(1 / 3), candidates, ctx);
    expect(uniform[1]!).toBeLessThan(uniform[0]!);
    expect(uniform[1]!).toBeLessThan(uniform[2]!);
    x.dispose();
  });

  it('reports task-identification accuracy and accuracy with the inferred task in results.json', () => {
    const summary = results.task_inference!;
    expect(summary.method).toBe('oneshot');
    expect(summary.batch_size).toBe(64);
    expect(summary.tasks).toHaveLength(3);
    for (const r of summary.tasks) {
      expect(r.task_id_accuracy).toBe(1);
      expect(r.accuracy_inferred).toBe(r.accuracy_true);
      expect(r.accuracy_true).toBe(results.accuracy_matrix[2]![r.task]);
    }
    expect(summary.task_id_accuracy).toBe(1);
  });

  it('leaks no tensors while inferring', async () => {
    const before = tf.memory().numTensors;
    const x = batchOf(0, 0, 16);
    await new BinaryInference({ batch_size: 16 }).infer(x, -1, inferenceContext(experiment.backbone, experiment.finishedTasks));
    await new ExhaustiveInference({ batch_size: 16 }).infer(x, -1, inferenceContext(experiment.backbone, experiment.finishedTasks));
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('superfluous outputs', () => {
  let sf: Experiment;
  beforeAll(async () => {
    sf = (await trainPermuted({ outputs: { superfluous: 20 } })).experiment;
  });
  afterAll(() => sf?.dispose());

  it('widens the head, predicts only the classes, and a wrong mask puts its probability on the superfluous outputs', async () => {
    expect(sf.backbone.layers.at(-1)!.shape).toEqual([50, 30]);
    const ctx = inferenceContext(sf.backbone, sf.finishedTasks);
    const oneshot = new OneShotInference({ batch_size: 64 });
    for (let j = 0; j < 3; j++) {
      const t = sf.stream.tasks[j]!;
      const d = inputSize(t.inputShape);
      const x = tf.tensor(t.test.x.subarray(0, 128 * d), [128, ...t.inputShape]);
      const logits = sf.logits(x, j);
      expect(logits.shape).toEqual([128, 10]);
      logits.dispose();
      for (let m = 0; m < 3; m++) {
        // Mean probability on outputs 10..29 under mask m.
        const mass = tf.tidy(() => tf.softmax(sf.backbone.forward(x, fixedContext(m))).slice([0, 10], [-1, -1]).sum(1).mean().dataSync()[0]!);
        if (m === j) expect(mass).toBeLessThan(0.1);
        else expect(mass).toBeGreaterThan(0.25);
      }
      expect(await oneshot.infer(x, -1, ctx)).toBe(j);
      x.dispose();
    }
  });
});
