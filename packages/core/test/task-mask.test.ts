import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { keptCount, MaskedDense, packBits, Rng, signedConstant, straightThroughMask, topKAbsMask, type MaskScorer } from '@supermask/core';

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
