import { describe, expect, it } from 'vitest';
import { keptCount, kthLargestInPlace, Rng, topKAbsMask } from '@supermask/core';

describe('top-k selection', () => {
  it('finds the k-th largest value like a full sort does', () => {
    const rng = new Rng(3);
    for (const n of [1, 2, 7, 100, 1001]) {
      const values = rng.fillUniform(new Float32Array(n), -1, 1);
      const sorted = Float32Array.from(values).sort((a, b) => b - a);
      for (const k of [1, Math.ceil(n / 3), n]) {
        expect(kthLargestInPlace(Float32Array.from(values), k)).toBe(sorted[k - 1]);
      }
    }
  });

  it('keeps exactly k entries of largest magnitude, ties in index order', () => {
    const scores = Float32Array.from([0.5, -0.9, 0.1, 0.5, -0.5, 0.2]);
    expect(Array.from(topKAbsMask(scores, 2))).toEqual([1, 1, 0, 0, 0, 0]);
    // |0.5| appears three times: with k = 3, -0.9 then the first two 0.5s in index order.
    expect(Array.from(topKAbsMask(scores, 3))).toEqual([1, 1, 0, 1, 0, 0]);
    const constant = new Float32Array(10).fill(0.3);
    expect(topKAbsMask(constant, 4).reduce((a, b) => a + b, 0)).toBe(4);
  });

  it('keeps round(density * n) weights', () => {
    const rng = new Rng(1);
    for (const [n, density] of [[235200, 0.1], [30000, 0.05], [1000, 0.02], [7, 0.5]] as const) {
      const scores = rng.fillUniform(new Float32Array(n), -1, 1);
      const k = keptCount(n, density);
      expect(k).toBe(Math.round(density * n));
      expect(topKAbsMask(scores, k).reduce((a, b) => a + b, 0)).toBe(k);
    }
  });

  it('matches a sort-based top-k exactly (ties by index, signed zeros, repeated values)', () => {
    const rng = new Rng(11);
    const reference = (scores: Float32Array, k: number): number[] => {
      const order = Array.from(scores.keys()).sort((a, b) => Math.abs(scores[b]!) - Math.abs(scores[a]!) || a - b);
      const mask = new Array<number>(scores.length).fill(0);
      for (const i of order.slice(0, k)) mask[i] = 1;
      return mask;
    };
    for (const n of [1, 2, 3, 17, 256, 1000, 4097]) {
      for (const levels of [0, 3, 50]) {
        const scores = rng.fillUniform(new Float32Array(n), -1, 1);
        // Few distinct magnitudes: many ties at the threshold.
        if (levels > 0) for (let i = 0; i < n; i++) scores[i] = Math.round(scores[i]! * levels) / levels;
        if (n > 2) scores[1] = -0;
        for (const k of [1, Math.ceil(n / 10), Math.ceil(n / 2), n - 1, n]) {
          if (k < 1) continue;
          const scratch = new Float32Array(n);
          expect(Array.from(topKAbsMask(scores, k, undefined, scratch))).toEqual(reference(scores, k));
        }
      }
    }
  });
});
