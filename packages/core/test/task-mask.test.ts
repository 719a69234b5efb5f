import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { keptCount, MaskedDense, packBits, Rng, signedConstant, straightThroughMask, superpositionContext, topKAbsMask, type MaskScorer } from '@supermask/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const scorer: MaskScorer = {
  id: 'test-topk',
  densities: (layers) => layers.map(() => 0.25),
  initScores: (layer, rng) => rng.fillUniform(new Float32Array(layer.size), -1, 1),
  maskValues: (scores, density) => topKAbsMask(scores, keptCount(scores.length, density)),
  maskWithGradient: (scores, density) => straightThroughMask(scores, (v) => topKAbsMask(v, keptCount(v.length, density))),
};

const layer = () => new MaskedDense('fc', 8, 4, signedConstant(32, 8, new Rng(1)));

describe('LayerMasks', () => {
  it('draws scores from the bound scorer, keeps top-density of them, and packs the final mask', () => {
    const l = layer();
    l.masks.bind(scorer, 0.25);
    l.masks.add(0, undefined, new Rng(2));
    const scores = l.masks.scoreValues(0);
    expect(scores).toEqual(new Rng(2).fillUniform(new Float32Array(32), -1, 1));
    const mask = Float32Array.from(l.masks.values(0));
    expect(mask).toEqual(topKAbsMask(scores, 8));
    expect(l.masks.finish(0)).toEqual(packBits(mask));
    expect(l.masks.values(0)).toEqual(mask);
    expect(() => l.masks.scores(0)).toThrow(/task 0 is finished; its scores were released/);
    expect(l.masks.bytes(0)).toEqual({ mask: 4, scores: 0 });
    l.dispose();
  });

  it('gives a task without scores a dense mask until a phase sets one, which then wins over scores', () => {
    const before = tf.memory().numTensors;
    const l = layer();
    l.masks.bind({ ...scorer, initScores: undefined }, 1);
    l.masks.add(0, undefined, new Rng(2));
    expect(l.masks.hasScores(0)).toBe(false);
    expect([...l.masks.values(0)]).toEqual(new Array(32).fill(1));
    expect(() => l.masks.scores(0)).toThrow(/task 0 has no scores/);
    const set = Float32Array.from({ length: 32 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    l.masks.setMask(0, set);
    expect(l.masks.values(0)).toEqual(set);
    tf.tidy(() => {
      expect(l.masks.withGradient(0).dataSync()).toEqual(set);
    });
    // A task with scores follows a set mask too.
    l.masks.bind(scorer, 0.25);
    l.masks.add(1, undefined, new Rng(3));
    l.masks.setMask(1, set);
    expect(l.masks.values(1)).toEqual(set);
    expect(() => l.masks.setMask(1, new Float32Array(3))).toThrow(/mask have 3 values, shape 8x4 needs 32/);
    l.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** A 12x5 layer with `tasks` masks, the first `finished` finished (bit-packed), the rest cached. */
function layerWithMasks(tasks: number, finished = 2): MaskedDense {
  const l = new MaskedDense('fc', 12, 5, signedConstant(60, 12, new Rng(1)));
  l.masks.bind(scorer, 0.25);
  for (let t = 0; t < tasks; t++) {
    l.masks.add(t, undefined, new Rng(10 + t));
    if (t < finished) l.masks.finish(t);
  }
  return l;
}

describe('superpositionContext', () => {
  it('is W * sum_i alpha_i M_i (the stacked product equals the sum of terms), gradient included', () => {
    const l = layerWithMasks(4);
    const candidates = [3, 0, 2];
    const alpha = Float32Array.from([0.2, 0.5, 0.3]);
    const w = l.weight.arraySync() as number[][];
    const masks = candidates.map((t) => l.masks.values(t));
    const expected = w.map((row, r) => row.map((v, c) => v * candidates.reduce((s, _, i) => s + alpha[i]! * masks[i]![r * 5 + c]!, 0)));
    tf.tidy(() => {
      const ctx = superpositionContext(candidates, tf.tensor1d(alpha));
      expect(ctx.batchStatistics).toBe(true);
      const got = ctx.weight(l).arraySync() as number[][];
      got.forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(expected[r]![c]!, 6)));
      // d/dalpha_i sum(W * mix) = sum(W * M_i).
      const g = tf.grad((a) => superpositionContext(candidates, a as tf.Tensor1D).weight(l).sum() as tf.Scalar)(tf.tensor1d(alpha)).arraySync() as number[];
      candidates.forEach((_, i) => expect(g[i]!).toBeCloseTo(w.flat().reduce((s, v, j) => s + v * masks[i]![j]!, 0), 4));
    });
    l.dispose();
  });

  it('mixes each layer once per context, recomputes a mix an enclosing tidy disposed, and leaks nothing', () => {
    const l = layerWithMasks(3, 3);
    const before = tf.memory().numTensors;
    const alpha = tf.tensor1d([0.5, 0.25, 0.25]);
    const ctx = superpositionContext([0, 1, 2], alpha);
    const first = tf.tidy(() => {
      const a = ctx.weight(l);
      expect(ctx.weight(l)).toBe(a);
      return a.dataSync().slice();
    });
    // The tidy disposed the cached mix: the next pass computes it again, with the same values.
    tf.tidy(() => {
      expect(ctx.weight(l).dataSync()).toEqual(first);
    });
    alpha.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => tf.tidy(() => superpositionContext([0, 1], tf.tensor1d([1])))).toThrow(/a superposition of 2 tasks needs 2 coefficients, got 1/);
    expect(() => tf.tidy(() => superpositionContext([], tf.tensor1d([])))).toThrow(/at least one task/);
    l.dispose();
  });
});
