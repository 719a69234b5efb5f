import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  allocateDensities,
  fixedContext,
  kaimingUniform,
  keptCount,
  maskWeightGradients,
  MaskedDense,
  Rng,
  signedConstant,
  straightThroughMask,
  topKAbsMask,
  weightTrainingContext,
  type ForwardContext,
  type MaskScorer,
} from '@supermask/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A minimal top-k scorer built from core's primitives (the real one lives in strategy-supsup). */
const scorer: MaskScorer = {
  id: 'test-topk',
  densities: (layers) => layers.map(() => 0.5),
  initScores: (layer, rng) => kaimingUniform(layer.size, layer.fanIn, rng),
  maskValues: (scores, density) => topKAbsMask(scores, keptCount(scores.length, density)),
  maskWithGradient: (scores, density) => straightThroughMask(scores, (v) => topKAbsMask(v, keptCount(v.length, density))),
};

function makeLayer(seed: number, inputs = 6, outputs = 4): MaskedDense {
  const rng = new Rng(seed);
  const layer = new MaskedDense('fc', inputs, outputs, signedConstant(inputs * outputs, inputs, rng.child('w')));
  layer.masks.bind(scorer, 0.5);
  layer.addTask(0, scorer.initScores(layer, rng.child('s0')));
  layer.addTask(1, scorer.initScores(layer, rng.child('s1')));
  return layer;
}

describe('MaskedDense', () => {
  it('initialises weights to ±sqrt(2/fan_in) and scores Kaiming-uniform within ±1/sqrt(fan_in)', () => {
    const rng = new Rng(0);
    const w = signedConstant(10000, 784, rng);
    const c = Math.sqrt(2 / 784);
    for (const v of w) expect(Math.abs(Math.abs(v) - c)).toBeLessThan(1e-7);
    const positive = w.filter((v) => v > 0).length;
    expect(positive).toBeGreaterThan(4800);
    expect(positive).toBeLessThan(5200);
    const s = kaimingUniform(10000, 784, rng);
    const bound = 1 / Math.sqrt(784);
    expect(Math.max(...s)).toBeLessThanOrEqual(bound);
    expect(Math.min(...s)).toBeGreaterThanOrEqual(-bound);
    expect(Math.max(...s)).toBeGreaterThan(0.95 * bound);
  });

  it('keeps exactly round(density * n) weights in a task mask', () => {
    const layer = makeLayer(1, 50, 30);
    for (const density of [0.02, 0.1, 0.37, 1]) {
      layer.density = density;
      layer.masks.invalidate(0);
      const kept = layer.masks.values(0).reduce((a, b) => a + b, 0);
      expect(kept).toBe(Math.round(density * 1500));
    }
    layer.dispose();
  });

  it('passes the gradient of the masked weight product to the scores (finite differences)', () => {
    const layer = makeLayer(2);
    const rng = new Rng(9);
    const x = tf.tensor2d(rng.fillUniform(new Float32Array(3 * 6), -1, 1), [3, 6]);
    const target = tf.tensor2d(rng.fillUniform(new Float32Array(3 * 4), -1, 1), [3, 4]);
    const W = layer.weight;
    const lossOfMask = (m: tf.Tensor) => tf.tidy(() => tf.matMul(x, W.mul(m) as tf.Tensor2D).sub(target).square().sum() as tf.Scalar);

    // Gradient that reaches the scores through the straight-through top-k.
    const S = layer.scores(0);
    const gS = tf.grad((s: tf.Tensor) => lossOfMask(scorer.maskWithGradient(s, 0.5)))(S);

    // dL/dM by central differences at the current mask, then chain through |S|: sign(S) * dL/dM.
    const mask = layer.masks.values(0);
    const sValues = S.dataSync();
    const h = 1e-2;
    const expected = new Float32Array(mask.length);
    for (let i = 0; i < mask.length; i++) {
      const plus = Float32Array.from(mask);
      const minus = Float32Array.from(mask);
      plus[i] += h;
      minus[i] -= h;
      const lp = lossOfMask(tf.tensor(plus, layer.shape)).dataSync()[0]!;
      const lm = lossOfMask(tf.tensor(minus, layer.shape)).dataSync()[0]!;
      expected[i] = Math.sign(sValues[i]!) * ((lp - lm) / (2 * h));
    }
    const got = gS.dataSync();
    const scale = Math.max(...expected.map(Math.abs));
    for (let i = 0; i < expected.length; i++) expect(Math.abs(got[i]! - expected[i]!)).toBeLessThan(1e-3 * scale + 1e-5);
    // Not a vacuous check: masked-out weights get gradient too (straight-through), and it is not all zero.
    expect(scale).toBeGreaterThan(0.01);
    tf.dispose([x, target, gS]);
    layer.dispose();
  });

  it('keeps masks of different tasks independent', () => {
    const layer = makeLayer(3);
    const before0 = Float32Array.from(layer.masks.values(0));
    const before1 = Float32Array.from(layer.masks.values(1));
    expect(before0).not.toEqual(before1);
    const x = tf.ones([2, 6]);
    const ctx: ForwardContext = { task: 1, training: true, weight: (l) => l.weight.mul(scorer.maskWithGradient(l.scores(1), l.density)) };
    const opt = tf.train.sgd(10);
    for (let step = 0; step < 5; step++) {
      opt.minimize(() => layer.apply(x as tf.Tensor2D, ctx).sum() as tf.Scalar, false, [layer.scores(1)]);
      layer.masks.invalidate(1);
    }
    expect(layer.masks.values(1)).not.toEqual(before1);
    expect(layer.masks.values(0)).toEqual(before0);
    opt.dispose();
    x.dispose();
    layer.dispose();
  });

  it('allocates densities uniformly or Erdős–Rényi with the same total', () => {
    const layers = [
      { name: 'a', shape: [784, 300], fanIn: 784, fanOut: 300, size: 235200 },
      { name: 'b', shape: [300, 100], fanIn: 300, fanOut: 100, size: 30000 },
      { name: 'c', shape: [100, 10], fanIn: 100, fanOut: 10, size: 1000 },
    ];
    expect(allocateDensities(layers, 0.1, 'uniform')).toEqual([0.1, 0.1, 0.1]);
    const er = allocateDensities(layers, 0.1, 'er');
    const kept = er.reduce((s, d, i) => s + d * layers[i]!.size, 0);
    expect(kept).toBeCloseTo(0.1 * 266200, 3);
    expect(er[0]!).toBeLessThan(er[1]!);
    expect(er[1]!).toBeLessThan(er[2]!);
    for (const d of er) expect(d).toBeLessThanOrEqual(1);
  });
});

describe('weightTrainingContext', () => {
  it('gives the weight gradient of fixedContext + maskWeightGradients, bit for bit, with one multiply fewer', async () => {
    const layer = makeLayer(7, 40, 30);
    const rng = new Rng(8);
    // An editable set that overlaps the mask only in part, so both factors matter.
    const allowed = Float32Array.from({ length: layer.size }, () => (rng.next() < 0.6 ? 1 : 0));
    const editable = tf.tensor(allowed, layer.shape);
    const gradientMask = tf.tidy(() => layer.masks.tensor(0).mul(editable));
    const x = tf.tensor(Float32Array.from({ length: 5 * 40 }, () => rng.next() * 2 - 1), [5, 40]) as tf.Tensor2D;
    layer.weight.trainable = true;
    const gradOf = (ctx: ForwardContext, transform: (g: tf.NamedTensorMap) => tf.NamedTensorMap): Float32Array =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => layer.apply(x, ctx).square().sum() as tf.Scalar, [layer.weight]);
        return transform(grads)[layer.weight.name]!.dataSync() as Float32Array;
      });
    const reference = gradOf(fixedContext(0, true), (g) => maskWeightGradients(g, [layer], [editable]));
    const before = tf.memory().numTensors;
    const fused = gradOf(weightTrainingContext(0, new Map([[layer, gradientMask]])), (g) => g);
    expect(tf.memory().numTensors).toBe(before);
    expect(new Uint32Array(fused.buffer)).toEqual(new Uint32Array(reference.buffer));
    expect(reference.some((v, i) => v !== 0 && allowed[i] === 1)).toBe(true);
    expect(reference.every((v, i) => v === 0 || (allowed[i] === 1 && layer.masks.values(0)[i] === 1))).toBe(true);
    // The forward value is the same effective weight as fixedContext's.
    const a = tf.tidy(() => fixedContext(0, true).weight(layer).dataSync() as Float32Array);
    const b = tf.tidy(() => weightTrainingContext(0, new Map([[layer, gradientMask]])).weight(layer).dataSync() as Float32Array);
    expect(b).toEqual(a);
    // One Multiply fewer per step: dL/dW * (M * E) instead of (dL/dW * M) * E.
    const multiplies = async (ctx: ForwardContext, transform: (g: tf.NamedTensorMap) => tf.NamedTensorMap): Promise<number> => {
      const info = await tf.profile(() => {
        const { grads } = tf.variableGrads(() => layer.apply(x, ctx).square().sum() as tf.Scalar, [layer.weight]);
        return transform(grads)[layer.weight.name]!;
      });
      tf.dispose(info.result as tf.Tensor);
      return info.kernels.filter((k) => k.name === 'Multiply').length;
    };
    const plain = await multiplies(fixedContext(0, true), (g) => maskWeightGradients(g, [layer], [editable]));
    expect(await multiplies(weightTrainingContext(0, new Map([[layer, gradientMask]])), (g) => g)).toBe(plain - 1);
    tf.dispose([editable, gradientMask, x]);
  });
});
