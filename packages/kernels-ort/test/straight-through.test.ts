import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { effectiveWeight, keptCount, straightThroughMask, straightThroughProduct, topKAbsMask } from '@supermask/core';
import { STRAIGHT_THROUGH_GRAD_KERNEL } from '@supermask/kernels-ort';
import { ORT, uniform } from './helpers.js';

afterAll(async () => {
  await tf.setBackend('cpu');
});

const maskOf = (values: Float32Array): Float32Array => topKAbsMask(values, keptCount(values.length, 0.3));

/** Value and score gradient of sum(c * W * M(S)) through `weightOf`, as bit patterns. */
function valueAndGrad(weightOf: (w: tf.Tensor, s: tf.Tensor) => tf.Tensor, shape: number[], seed: number): Uint32Array[] {
  return tf.tidy(() => {
    const n = shape.reduce((a, b) => a * b, 1);
    const w = tf.tensor(uniform(n, seed), shape);
    const scoreValues = uniform(n, seed + 1);
    // Zero scores: tfjs's sign gives 0 there, so their gradient is a (signed) zero.
    for (let i = 0; i < n; i += 97) scoreValues[i] = 0;
    const s = tf.tensor(scoreValues, shape);
    const c = tf.tensor(uniform(n, seed + 2, -3, 3), shape);
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => weightOf(w, x).mul(c).sum())(s);
    const y = weightOf(w, s);
    return [y, value, grad].map((t) => new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer));
  });
}

describe('straightThroughProduct', () => {
  for (const shape of [[3, 3, 20, 40], [7, 5]]) {
    it(`gives the bits of W * straightThroughMask(S) and its score gradient, on ${ORT} (one kernel) and cpu (tensor ops), shape ${shape.join('x')}`, async () => {
      const results: Record<string, Uint32Array[][]> = {};
      for (const backend of [ORT, 'cpu']) {
        await tf.setBackend(backend);
        const before = tf.memory().numTensors;
        results[backend] = [
          valueAndGrad((w, s) => effectiveWeight(w, straightThroughMask(s, maskOf)), shape, 5),
          valueAndGrad((w, s) => straightThroughProduct(w, s, maskOf), shape, 5),
        ];
        expect(tf.memory().numTensors).toBe(before);
      }
      for (const backend of [ORT, 'cpu']) {
        const [reference, fused] = results[backend]!;
        for (let i = 0; i < reference!.length; i++) expect(fused![i]).toEqual(reference![i]);
      }
      // Both backends give the same effective weight and score gradient (the summed loss differs by the reductions' order).
      for (const i of [0, 2]) expect(results[ORT]![1]![i]).toEqual(results.cpu![1]![i]);
    });
  }

  it(`runs ${STRAIGHT_THROUGH_GRAD_KERNEL} on ${ORT}: one kernel for the three products of the gradient`, async () => {
    await tf.setBackend(ORT);
    const count = async (weightOf: (w: tf.Tensor, s: tf.Tensor) => tf.Tensor): Promise<string[]> => {
      const w = tf.tensor(uniform(4000, 1), [40, 100]);
      const s = tf.tensor(uniform(4000, 2), [40, 100]);
      const info = await tf.profile(() => tf.grad((x: tf.Tensor) => weightOf(w, x).sum())(s));
      tf.dispose([w, s, info.result as tf.Tensor]);
      return info.kernels.map((k) => k.name).filter((k) => ['Multiply', 'Sign', STRAIGHT_THROUGH_GRAD_KERNEL].includes(k));
    };
    // W * M, the sum's gradient (dy * ones), then dy * W, sign(S) and their product; fused: one kernel for the last three.
    expect(await count((w, s) => effectiveWeight(w, straightThroughMask(s, maskOf)))).toEqual(['Multiply', 'Multiply', 'Multiply', 'Sign', 'Multiply']);
    expect(await count((w, s) => straightThroughProduct(w, s, maskOf))).toEqual(['Multiply', 'Multiply', STRAIGHT_THROUGH_GRAD_KERNEL]);
  });

  it('rejects inputs of different shapes with a message naming the kernel', async () => {
    await tf.setBackend(ORT);
    const [a, b] = [tf.ones([2, 3]), tf.ones([3, 2])];
    expect(() => tf.engine().runKernel(STRAIGHT_THROUGH_GRAD_KERNEL, { dy: a, weight: a, scores: b }, {})).toThrow(/SupermaskStraightThroughGrad: expected float32 dy, weight and scores of one shape/);
    tf.dispose([a, b]);
  });
});
