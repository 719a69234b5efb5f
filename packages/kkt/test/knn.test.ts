import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@supermask/core';
import { knnAccuracy, knnPredict } from '@supermask/kkt';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Brute force: sort all reference points by squared L2 distance, majority of the first k. */
function bruteForce(ref: Float32Array, labels: Int32Array, queries: Float32Array, d: number, k: number, classes: number): Int32Array {
  const n = labels.length;
  const m = queries.length / d;
  const out = new Int32Array(m);
  for (let q = 0; q < m; q++) {
    const dist = Array.from({ length: n }, (_, i) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += (queries[q * d + j]! - ref[i * d + j]!) ** 2;
      return { i, s };
    }).sort((a, b) => a.s - b.s || a.i - b.i);
    const votes = new Array(classes).fill(0);
    const first = new Array(classes).fill(Infinity);
    dist.slice(0, Math.min(k, n)).forEach(({ i }, r) => {
      votes[labels[i]!]++;
      first[labels[i]!] = Math.min(first[labels[i]!], r);
    });
    let best = 0;
    for (let c = 1; c < classes; c++) if (votes[c] > votes[best] || (votes[c] === votes[best] && first[c] < first[best])) best = c;
    out[q] = best;
  }
  return out;
}

describe('k-NN', () => {
  it('matches a brute-force L2 k-NN with majority vote', async () => {
    const rng = new Rng(4);
    const d = 5;
    const n = 120;
    const m = 700; // more than one query batch
    const ref = rng.fillUniform(new Float32Array(n * d), -1, 1);
    const labels = Int32Array.from({ length: n }, () => rng.int(3));
    const queries = rng.fillUniform(new Float32Array(m * d), -1, 1);
    for (const k of [1, 4, 7, 500]) {
      const [r, q] = [tf.tensor2d(ref, [n, d]), tf.tensor2d(queries, [m, d])];
      const got = await knnPredict(r, labels, q, k, 3);
      tf.dispose([r, q]);
      const want = bruteForce(ref, labels, queries, d, k, 3);
      let agree = 0;
      for (let i = 0; i < m; i++) if (got[i] === want[i]) agree++;
      // Float32 distance rounding may reorder near-equal neighbours: allow a handful of disagreements.
      expect(agree / m).toBeGreaterThan(0.99);
    }
  });

  it('scores perfectly separable features at 1 and leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    const n = 60;
    const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
    const x = tf.tensor2d(Array.from(labels, (l, i) => [l * 10 + (i % 7) * 0.01, 1]));
    expect(await knnAccuracy(x, labels, 40, 5, 2)).toBe(1);
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
