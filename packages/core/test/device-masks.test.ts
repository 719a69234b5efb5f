/**
 * The tensor selection (`kthLargestTensor`, `topKAbsMaskTensor`) on the cpu backend against the
 * CPU selection: the radix search on float32 bit patterns must land on exactly the k-th largest
 * value, across exponents, subnormals, zeros and ties. (webgpu.test.ts repeats the mask check on
 * the GPU.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { kthLargestTensor, Rng, topKAbsMask, topKAbsMaskTensor } from '@supermask/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** |values| of wildly different magnitudes: exponents from subnormal to 1e30, exact zeros, repeats. */
function mixedMagnitudes(n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng.uniform(0, 1);
    if (r < 0.05) out[i] = 0;
    else if (r < 0.1) out[i] = 1e-40 * Math.floor(rng.uniform(1, 50)); // subnormal
    else if (r < 0.2) out[i] = 0.25; // a repeated value
    else out[i] = (rng.uniform(0, 1) < 0.5 ? -1 : 1) * 10 ** rng.uniform(-30, 30);
  }
  return out;
}

describe('tensor top-k by radix selection (cpu backend)', () => {
  it('kthLargestTensor returns exactly the k-th largest element', async () => {
    const rng = new Rng(4);
    const before = tf.memory().numTensors;
    for (const n of [1, 2, 17, 1000, 5003]) {
      const values = mixedMagnitudes(n, rng).map(Math.abs);
      const sorted = Float32Array.from(values).sort((a, b) => b - a);
      for (const k of new Set([1, 2, Math.ceil(n / 7), Math.ceil(n / 2), n - 1, n].filter((k) => k >= 1 && k <= n))) {
        const t = tf.tidy(() => kthLargestTensor(tf.tensor1d(values), k));
        expect((await t.data())[0], `n ${n}, k ${k}`).toBe(sorted[k - 1]);
        t.dispose();
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('topKAbsMaskTensor equals topKAbsMask (exactly k kept, ties in index order)', async () => {
    const rng = new Rng(8);
    const before = tf.memory().numTensors;
    for (const n of [10, 999, 4096]) {
      const cases = [mixedMagnitudes(n, rng), Float32Array.from({ length: n }, () => Math.floor(rng.uniform(-5, 5)) / 5)];
      for (const scores of cases) {
        for (const density of [0.01, 0.3, 0.5, 0.97]) {
          const k = Math.round(density * n);
          const mask = tf.tidy(() => topKAbsMaskTensor(tf.tensor1d(scores), k));
          const got = (await mask.data()) as Float32Array;
          mask.dispose();
          expect(got).toEqual(topKAbsMask(scores, k));
        }
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects k outside 1..n', () => {
    const a = tf.tensor1d([1, 2, 3]);
    expect(() => kthLargestTensor(a, 0)).toThrow(/k must be in 1\.\.3, got 0/);
    expect(() => kthLargestTensor(a, 4)).toThrow(/k must be in 1\.\.3, got 4/);
    a.dispose();
  });
});
