import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createOptimizer, FusedOptimizer, Rng, setLearningRate, type PhaseOptions } from '@supermask/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
  (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
});

const SHAPES = [[7, 5], [300], [3, 3, 2, 4]];

/** Gradients of several steps, with exact zeros in places (as a masked weight-phase gradient). */
function gradients(steps: number, seed: number): Float32Array[][] {
  const rng = new Rng(seed);
  return Array.from({ length: steps }, () =>
    SHAPES.map((shape) => {
      const g = rng.fillUniform(new Float32Array(shape.reduce((a, b) => a * b, 1)), -1, 1);
      for (let i = 0; i < g.length; i += 3) g[i] = 0;
      return g;
    }),
  );
}

/** Runs `optimizer` over the gradients; returns the final values of the variables. */
function train(optimizer: tf.Optimizer, grads: Float32Array[][], lrs: number[]): Float32Array[] {
  const rng = new Rng(5);
  const vars = SHAPES.map((shape, i) => tf.variable(tf.tensor(rng.fillUniform(new Float32Array(shape.reduce((a, b) => a * b, 1)), -1, 1), shape), true, `v${i}_${Math.random()}`));
  grads.forEach((step, s) => {
    setLearningRate(optimizer, lrs[s % lrs.length]!);
    tf.tidy(() => {
      const map: tf.NamedTensorMap = {};
      step.forEach((g, i) => (map[vars[i]!.name] = tf.tensor(g, SHAPES[i])));
      optimizer.applyGradients(map);
    });
  });
  const out = vars.map((v) => Float32Array.from(v.dataSync() as Float32Array));
  tf.dispose(vars);
  optimizer.dispose();
  return out;
}

const phase = (optimizer: PhaseOptions['optimizer'], momentum = 0): PhaseOptions => ({ optimizer, lr: 0.01, momentum, epochs: 1, schedule: 'constant', batch_size: 1 });

describe('fused optimiser step (cpu backends)', () => {
  const grads = gradients(6, 1);
  const lrs = [0.01, 0.003, 0.05];
  for (const [name, p] of [
    ['adam', phase('adam')],
    ['sgd', phase('sgd')],
    ['momentum', phase('sgd', 0.9)],
    ['rmsprop', phase('rmsprop')],
    ['rmsprop with momentum', phase('rmsprop', 0.5)],
  ] as const) {
    it(`${name}: the same bits as tfjs's optimiser on the cpu backend`, () => {
      const expected = train(createOptimizer(p, false), grads, lrs);
      const fused = createOptimizer(p, true);
      expect(fused).toBeInstanceOf(FusedOptimizer);
      const got = train(fused, grads, lrs);
      got.forEach((values, i) => expect(values).toEqual(expected[i]));
    });
  }

  it('is what createOptimizer gives on cpu', () => {
    expect(createOptimizer(phase('adam'))).toBeInstanceOf(FusedOptimizer);
  });

  it('adam: a weight whose gradient is always zero stays bit-exactly unchanged', () => {
    const before = Float32Array.from([0.3, -1.5, 2.25, 1e-30, -0]);
    const v = tf.variable(tf.tensor1d(before), true, `zero_${Math.random()}`);
    const optimizer = createOptimizer(phase('adam'), true);
    for (let step = 0; step < 20; step++) {
      tf.tidy(() => optimizer.applyGradients({ [v.name]: tf.tensor1d([0, -0, 0, 0, 0.5]) }));
    }
    const after = v.dataSync() as Float32Array;
    expect(Array.from(new Uint32Array(after.slice(0, 4).buffer))).toEqual(Array.from(new Uint32Array(before.slice(0, 4).buffer)));
    expect(after[4]).not.toBe(0);
    optimizer.dispose();
    v.dispose();
  });

  it('holds no tensors between steps', () => {
    const v = tf.variable(tf.ones([50]), true, `mem_${Math.random()}`);
    const optimizer = createOptimizer(phase('adam'), true);
    const start = tf.memory().numTensors;
    for (let step = 0; step < 10; step++) tf.tidy(() => optimizer.applyGradients({ [v.name]: tf.fill([50], 0.1) }));
    expect(tf.memory().numTensors).toBe(start);
    optimizer.dispose();
    v.dispose();
  });
});
