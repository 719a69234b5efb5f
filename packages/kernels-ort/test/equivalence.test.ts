import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ELEMENTWISE_MIN_SIZE } from '@supermask/kernels-ort';
import { expectEquivalent, withGradients, type Input } from './helpers.js';

type Conv = { x: number[]; f: number[]; strides: number | [number, number]; pad: 'same' | 'valid' | number; dilations?: number; format?: 'NHWC' | 'NCHW' };

describe('ORT kernels = plain tfjs cpu kernels (relative error <= 1e-4), forward and gradients', () => {
  // [name, a, b, transposeA, transposeB, gradients (tfjs has none for broadcast batch dims)]
  const matmuls: [string, number[], number[], boolean, boolean, boolean?][] = [
    ['1x1', [1, 1], [1, 1], false, false],
    ['batch 1 (LeNet fc1)', [1, 784], [784, 300], false, false],
    ['LeNet fc1, batch 64', [64, 784], [784, 300], false, false],
    ['odd sizes', [63, 785], [785, 301], false, false],
    ['transpose a', [7, 5], [7, 3], true, false],
    ['transpose b', [5, 7], [3, 7], false, true],
    ['transpose both', [7, 5], [3, 7], true, true],
    ['batched', [3, 5, 7], [3, 7, 4], false, false],
    ['batched, transpose b', [3, 5, 7], [3, 4, 7], false, true],
    ['batched, transpose a', [2, 7, 5], [2, 7, 4], true, false],
    ['broadcast batch (forward)', [1, 5, 7], [3, 7, 4], false, false, false],
    ['rank 3 x rank 2 (forward)', [2, 5, 7], [7, 3], false, false, false],
  ];
  for (const [name, a, b, ta, tb, grads = true] of matmuls) {
    it(`matMul ${name}`, async () => {
      const f = (x: tf.Tensor, w: tf.Tensor): tf.Tensor => tf.matMul(x, w, ta, tb);
      const ran = await expectEquivalent(grads ? withGradients((x, w) => f(x!, w!)) : (x, w) => f(x!, w!), [{ shape: a }, { shape: b }]);
      expect(ran).toBeGreaterThanOrEqual(grads ? 3 : 1);
    });
  }

  for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const) {
    it(`fused matMul with bias and ${activation}`, async () => {
      const inputs: Input[] = [{ shape: [9, 13] }, { shape: [13, 6] }, { shape: [6] }, { shape: [6], lo: 0, hi: 0.5 }];
      const ran = await expectEquivalent(
        (a, b, bias, alpha) =>
          tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation, preluActivationWeights: activation === 'prelu' ? alpha : undefined, leakyreluAlpha: 0.3 }),
        inputs,
      );
      expect(ran).toBe(1);
    });
  }

  it('fused matMul with transposes and a full bias, and its gradients', async () => {
    await expectEquivalent(
      withGradients((a, b, bias) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, transposeA: true, transposeB: true, activation: 'relu' })),
      [{ shape: [13, 9] }, { shape: [6, 13] }, { shape: [9, 6] }],
    );
  });

  const convs: [string, Conv][] = [
    ['batch 1, 3x3, stride 1, same', { x: [1, 5, 5, 1], f: [3, 3, 1, 2], strides: 1, pad: 'same' }],
    ['odd sizes, stride 2, same', { x: [2, 9, 9, 3], f: [3, 3, 3, 4], strides: 2, pad: 'same' }],
    ['even size, stride 2, same', { x: [2, 8, 8, 3], f: [3, 3, 3, 4], strides: 2, pad: 'same' }],
    ['stride 2, valid (last row dropped)', { x: [2, 8, 8, 3], f: [3, 3, 3, 4], strides: 2, pad: 'valid' }],
    ['odd sizes, valid', { x: [3, 11, 7, 5], f: [3, 2, 5, 7], strides: 1, pad: 'valid' }],
    ['1x1, stride 1', { x: [3, 7, 6, 5], f: [1, 1, 5, 6], strides: 1, pad: 'valid' }],
    ['1x1, stride 2 (ResNet shortcut)', { x: [2, 7, 7, 4], f: [1, 1, 4, 3], strides: 2, pad: 'valid' }],
    ['5x5, strides [2, 1], same', { x: [2, 10, 9, 3], f: [5, 5, 3, 2], strides: [2, 1], pad: 'same' }],
    ['explicit padding 1', { x: [2, 8, 8, 2], f: [3, 3, 2, 3], strides: 1, pad: 1 }],
    ['ResNet-18 block (nf 20, 32x32)', { x: [4, 32, 32, 20], f: [3, 3, 20, 20], strides: 1, pad: 'same' }],
    ['ResNet-18 downsampling (16x16, 40 -> 80)', { x: [2, 16, 16, 40], f: [3, 3, 40, 80], strides: 2, pad: 'same' }],
    ['channels first (NCHW)', { x: [2, 3, 9, 9], f: [3, 3, 3, 4], strides: 2, pad: 'same', format: 'NCHW' }],
  ];
  for (const [name, c] of convs) {
    it(`conv2d ${name}`, async () => {
      const ran = await expectEquivalent(
        withGradients((x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.strides, c.pad, c.format ?? 'NHWC')),
        [{ shape: c.x }, { shape: c.f }],
      );
      // Forward, dL/dx and dL/dfilter at least (large elementwise ops of the gradient run on ORT too).
      expect(ran).toBeGreaterThanOrEqual(3);
    });
  }

  it('conv2d with dilation 2 (forward; tfjs has no gradient for dilations)', async () => {
    const ran = await expectEquivalent((x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same', 'NHWC', 2), [{ shape: [2, 9, 9, 3] }, { shape: [3, 3, 3, 4] }]);
    expect(ran).toBe(1);
  });

  for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const) {
    it(`fused conv2d with bias and ${activation}`, async () => {
      const ran = await expectEquivalent(
        (x, f, bias, alpha) =>
          tf.fused.conv2d({
            x: x as tf.Tensor4D,
            filter: f as tf.Tensor4D,
            strides: 2,
            pad: 'same',
            bias,
            activation,
            preluActivationWeights: activation === 'prelu' ? alpha : undefined,
            leakyreluAlpha: 0.25,
          }),
        [{ shape: [2, 9, 9, 3] }, { shape: [3, 3, 3, 4] }, { shape: [4] }, { shape: [4], lo: 0, hi: 0.5 }],
      );
      expect(ran).toBe(1);
    });
  }

  it('fused conv2d with a bias and its gradients', async () => {
    await expectEquivalent(
      withGradients((x, f, bias) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: 1, pad: 'same', bias, activation: 'relu' })),
      [{ shape: [2, 6, 6, 3] }, { shape: [3, 3, 3, 5] }, { shape: [5] }],
    );
  });

  it('fused conv2d, channels first with a 1-D bias (forward; tfjs has no NCHW fused gradient)', async () => {
    const ran = await expectEquivalent(
      (x, f, bias) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: 1, pad: 'same', dataFormat: 'NCHW', bias, activation: 'relu' }),
      [{ shape: [2, 3, 6, 6] }, { shape: [3, 3, 3, 5] }, { shape: [5] }],
    );
    expect(ran).toBe(1);
  });

  const binaries: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ['mul', tf.mul],
    ['add', tf.add],
    ['sub', tf.sub],
    ['div', tf.div],
  ];
  for (const [name, op] of binaries) {
    for (const [a, b] of [
      [[64, 300], [64, 300]],
      [[64, 300], [300]],
      [[64, 1], [1, 300]],
      [[4, 16, 16, 20], [20]],
    ]) {
      it(`${name} ${a!.join('x')} by ${b!.join('x')}`, async () => {
        const inputs = [{ shape: a! }, { shape: b!, lo: 0.5, hi: 1.5 }];
        // Forward: the same bits (division: within rounding); gradients reduce broadcast axes by sums.
        expect(await expectEquivalent(op, inputs, 3, name === 'div' ? 1e-6 : 0)).toBe(1);
        await expectEquivalent(withGradients(op), inputs, 3, 1e-5);
      });
    }
  }

  for (const [name, op] of [
    ['sign', tf.sign],
    ['abs', tf.abs],
    ['relu', tf.relu],
  ] as const) {
    it(`${name} (with zeros, -0 and repeated values), exactly`, async () => {
      const ran = await expectEquivalent(
        (x) => {
          // Round to a coarse grid: many exact zeros, both signs.
          const v = tf.mul(tf.round(tf.mul(x!, 3)), 1 / 3);
          return op(tf.mul(v, tf.sign(x!)));
        },
        [{ shape: [ELEMENTWISE_MIN_SIZE + 5] }],
        4,
        0,
      );
      expect(ran).toBeGreaterThanOrEqual(1);
    });
  }

  it('square, exactly, and its gradient', async () => {
    const ran = await expectEquivalent(withGradients((x) => tf.square(x!)), [{ shape: [64, 300] }], 2, 0);
    expect(ran).toBeGreaterThanOrEqual(1);
  });

  it('step (the gradient of relu), exactly', async () => {
    const ran = await expectEquivalent((x) => tf.step(tf.round(tf.mul(x!, 2))), [{ shape: [4, 16, 16, 20] }], 2, 0);
    expect(ran).toBeGreaterThanOrEqual(1);
    // alpha != 0 stays on the cpu kernel.
    expect(await expectEquivalent((x) => tf.step(x!, 0.3), [{ shape: [64, 64] }], 2, 0)).toBe(0);
  });

  for (const [axis, keepDims] of [
    [[0, 1, 2], false],
    [[0, 1, 2], true],
    [0, false],
    [-1, true],
    [[1, 3], false],
    [null, false],
  ] as const) {
    it(`sum and mean over axis ${JSON.stringify(axis)}${keepDims ? ', keepDims' : ''} (batch-norm statistics), and gradients`, async () => {
      const ax = axis === null ? undefined : (axis as number | number[]);
      const ran = await expectEquivalent(
        (x) => [tf.sum(x!, ax, keepDims), tf.mean(x!, ax, keepDims), ...withGradients((y) => tf.mean(tf.square(y!), ax, keepDims))(x!)],
        [{ shape: [8, 12, 12, 20] }],
        5,
        1e-5,
      );
      expect(ran).toBeGreaterThanOrEqual(3);
    });
  }

  it('batch-norm style moments and normalisation, with gradients', async () => {
    await expectEquivalent(
      withGradients((x) => {
        const { mean, variance } = tf.moments(x!, [0, 1, 2]);
        return x!.sub(mean).div(variance.add(1e-5).sqrt());
      }),
      [{ shape: [16, 16, 16, 20] }],
      6,
    );
  });

  it('small elementwise ops stay on the plain cpu kernels', async () => {
    const ran = await expectEquivalent((a, b) => tf.mul(a!, b!), [{ shape: [10, 10] }, { shape: [10, 10] }], 1, 0);
    expect(ran).toBe(0);
  });

  it('int32 inputs fall back to the plain cpu kernels', async () => {
    const ran = await expectEquivalent((a, b) => tf.mul(a!.toInt(), b!.toInt()).toFloat(), [{ shape: [64, 64], lo: -100, hi: 100 }, { shape: [64, 64], lo: -100, hi: 100 }], 1, 0);
    expect(ran).toBe(0);
  });
});
