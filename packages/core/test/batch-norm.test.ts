import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { TaskBatchNorm, type ForwardContext } from '@supermask/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const ctx = (task: number, training: boolean): ForwardContext => ({ task, training, weight: (l) => l.weight });

describe('TaskBatchNorm', () => {
  it('normalises with batch statistics in training and keeps running statistics per task', () => {
    const bn = new TaskBatchNorm('bn', 2, 0.5);
    bn.addTask(0);
    bn.addTask(1);
    const x = tf.tensor2d([[1, 10], [3, 20], [5, 30]]);
    const y = bn.apply(x, ctx(0, true));
    const mean = tf.moments(y, [0]);
    expect(Array.from(mean.mean.dataSync()).map((v) => Math.abs(v) < 1e-5)).toEqual([true, true]);
    const s0 = bn.statistics(0);
    // running = 0.5 * init + 0.5 * batch (unbiased variance).
    expect(Array.from(s0.mean)).toEqual([1.5, 10]);
    expect(s0.variance[0]).toBeCloseTo(0.5 * 1 + 0.5 * 4, 5);
    expect(s0.variance[1]).toBeCloseTo(0.5 * 1 + 0.5 * 100, 4);
    // Task 1 untouched.
    expect(Array.from(bn.statistics(1).mean)).toEqual([0, 0]);
    // Eval uses the running statistics.
    const e = bn.apply(tf.tensor2d([[1.5, 10]]), ctx(0, false)).dataSync();
    expect(Math.abs(e[0]!)).toBeLessThan(1e-6);
    // A frozen task's statistics no longer change.
    bn.freeze(0);
    bn.apply(x, ctx(0, true));
    expect(Array.from(bn.statistics(0).mean)).toEqual([1.5, 10]);
    tf.dispose([x, y, mean.mean, mean.variance]);
    bn.dispose();
  });
});

describe('TaskBatchNorm.track', () => {
  it('on the cpu backend gives the bits of the tensor ops it replaces, over several updates', () => {
    const channels = 37;
    const bn = new TaskBatchNorm('bn', channels, 0.1);
    bn.addTask(0);
    let refMean = tf.zeros([channels]);
    let refVariance = tf.ones([channels]);
    const before = tf.memory().numTensors;
    for (let step = 0; step < 5; step++) {
      const mean = tf.randomNormal([channels], 0, 3, 'float32', 10 + step);
      const variance = tf.randomUniform([channels], 0.01, 7, 'float32', 20 + step);
      const count = 64 * (step + 1) * 9;
      bn.track(0, mean, variance, count);
      // What track computed with tensor ops before (tfjs's float32 multiply and add).
      const [m, v] = tf.tidy(() => [
        refMean.mul(1 - 0.1).add(mean.mul(0.1)),
        refVariance.mul(1 - 0.1).add(variance.mul(count / (count - 1)).mul(0.1)),
      ]);
      tf.dispose([refMean, refVariance, mean, variance]);
      refMean = m!;
      refVariance = v!;
      const got = bn.statistics(0);
      expect(new Uint32Array(got.mean.buffer)).toEqual(new Uint32Array((refMean.dataSync() as Float32Array).slice().buffer));
      expect(new Uint32Array(got.variance.buffer)).toEqual(new Uint32Array((refVariance.dataSync() as Float32Array).slice().buffer));
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([refMean, refVariance]);
    bn.dispose();
  });
});
