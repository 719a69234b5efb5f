import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { convBn, MaskedConv2d, TaskBatchNorm, type ForwardContext } from '@supermask/core';
import { CONV_BN_KERNEL, nchwcBlockSize, ortRuntime } from '@supermask/kernels-ort';
import { ORT, relativeError, uniform } from './helpers.js';

/**
 * relu?(bn(conv(x)) + skip) with its gradients (x, weight, skip) for a fixed output gradient, by
 * core's fused unit (NCHW) and op by op (NHWC), on the ORT backend; also the running statistics.
 */
function both(cin: number, cout: number, k: number, stride: number, size: number, relu: boolean, withSkip: boolean, training: boolean) {
  const pad = (k - 1) / 2;
  const conv = new MaskedConv2d('c', cin, cout, k, stride, pad, uniform(k * k * cin * cout, 3));
  const out = Math.floor((size + 2 * pad - k) / stride) + 1;
  const run = (fused: boolean) => {
    const bn = new TaskBatchNorm('bn', cout);
    bn.addTask(0);
    if (!training) bn.setStatistics(0, uniform(cout, 5, -0.5, 0.5), uniform(cout, 6, 0.5, 2));
    const ctx = (w: tf.Tensor): ForwardContext => ({ task: 0, training, weight: () => w });
    const values = tf.tidy(() => {
      const x = tf.tensor4d(uniform(3 * size * size * cin, 1), [3, size, size, cin]);
      const skip = tf.tensor4d(uniform(3 * out * out * cout, 2), [3, out, out, cout]);
      const dy = tf.tensor4d(uniform(3 * out * out * cout, 4), [3, out, out, cout]);
      const toNchw = (t: tf.Tensor4D) => tf.transpose(t, [0, 3, 1, 2]) as tf.Tensor4D;
      const toNhwc = (t: tf.Tensor) => tf.transpose(t, [0, 2, 3, 1]);
      const f = (xi: tf.Tensor, wi: tf.Tensor, si: tf.Tensor): tf.Tensor => {
        if (fused) return toNhwc(convBn(toNchw(xi as tf.Tensor4D), { conv, bn, relu }, ctx(wi), withSkip ? toNchw(si as tf.Tensor4D) : undefined));
        let h: tf.Tensor = bn.apply(conv.apply(xi as tf.Tensor4D, ctx(wi)), ctx(wi));
        if (withSkip) h = h.add(si);
        return relu ? tf.relu(h) : h;
      };
      const y = f(x, conv.weight, skip);
      const grads = withSkip
        ? tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => f(a, b, c))([x, conv.weight, skip], dy)
        : tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a, b, skip))([x, conv.weight], dy);
      return [y, ...grads].map((t) => Float32Array.from(t.dataSync() as Float32Array));
    });
    const s = bn.statistics(0);
    bn.dispose();
    return [...values, s.mean, s.variance];
  };
  try {
    return { reference: run(false), fused: run(true) };
  } finally {
    conv.dispose();
  }
}

describe('fused conv + batch-norm kernels = op by op on the ORT backend (relative error <= 1e-4)', () => {
  const cases: [string, number, number, number, number, number, boolean, boolean, boolean][] = [
    ['3x3 stride 1, ReLU, training', 3, 5, 3, 1, 7, true, false, true],
    ['3x3 stride 2 on an even size (output padding 1), skip and ReLU', 4, 6, 3, 2, 8, true, true, true],
    ['3x3 stride 2 on an odd size, no ReLU', 4, 6, 3, 2, 9, false, false, true],
    ['1x1 stride 2 (shortcut), no ReLU', 4, 8, 1, 2, 8, false, false, true],
    ['1x1 stride 2 on an odd size', 3, 5, 1, 2, 9, false, false, true],
    ['1x1 stride 3 on a size not a multiple of 3', 3, 4, 1, 3, 7, true, false, true],
    ['running statistics (evaluation), skip and ReLU', 3, 5, 3, 1, 6, true, true, false],
  ];
  for (const [name, cin, cout, k, stride, size, relu, skip, training] of cases) {
    it(name, async () => {
      await tf.setBackend(ORT);
      const before = tf.memory().numTensors;
      const { reference, fused } = both(cin, cout, k, stride, size, relu, skip, training);
      expect(fused.length).toBe(reference.length);
      reference.forEach((r, i) => {
        expect(fused[i]!.length).toBe(r.length);
        if (i <= 2) expect(r.some((v) => v !== 0)).toBe(true);
        expect(relativeError(r, fused[i]!)).toBeLessThanOrEqual(1e-4);
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  // Channel counts that fill whole NCHWc blocks (8 with AVX2, 16 with AVX-512): the forward
  // convolution and the stride-1 dx run on ONNX Runtime's blocked kernels where it has them.
  const blocked: [string, number, number, number, number, number, boolean, boolean, boolean][] = [
    ['blocked: 3x3 stride 1, skip and ReLU, training', 16, 16, 3, 1, 6, true, true, true],
    ['blocked: 3x3 stride 2 (dx by ConvTranspose), training', 16, 32, 3, 2, 8, true, false, true],
    ['blocked: 1x1 stride 1, running statistics', 32, 16, 1, 1, 5, false, false, false],
    ['blocked: 1x1 stride 2 (shortcut; dx by ConvTranspose)', 16, 32, 1, 2, 7, false, false, true],
  ];
  for (const [name, cin, cout, k, stride, size, relu, skip, training] of blocked) {
    it(name, async () => {
      await tf.setBackend(ORT);
      const block = nchwcBlockSize(ortRuntime(ORT));
      if (block === undefined) console.log('this onnxruntime-node has no NCHWc contrib ops: the plain Conv graphs are checked instead');
      const before = tf.memory().numTensors;
      const results: Float32Array[][] = [];
      for (const off of [false, true]) {
        if (off) process.env.SUPERMASK_ORT_NCHWC = '0';
        try {
          const { reference, fused } = both(cin, cout, k, stride, size, relu, skip, training);
          reference.forEach((r, i) => {
            if (i <= 2) expect(r.some((v) => v !== 0)).toBe(true);
            expect(relativeError(r, fused[i]!)).toBeLessThanOrEqual(1e-4);
          });
          results.push(fused);
        } finally {
          delete process.env.SUPERMASK_ORT_NCHWC;
        }
      }
      // The blocked sessions exist (key suffix |b<block>) exactly when the ops and the channels allow.
      const keys = ortRuntime(ORT).sessionKeys();
      const fits = block !== undefined && cin % block === 0 && cout % block === 0;
      const made = (kind: string) => keys.some((key) => key.startsWith(`${kind}|${cin}x${size}x${size}|${k}x${cout}|`) && key.includes(`|b${block}|`));
      expect(made('ConvBn')).toBe(fits);
      expect(made('ConvBnGrad')).toBe(fits && stride === 1);
      // Same inputs, same path: the same numbers.
      const again = both(cin, cout, k, stride, size, relu, skip, training).fused;
      again.forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(results[0]![i]!)));
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('rejects bad attributes and shapes with the kernel name', async () => {
    await tf.setBackend(ORT);
    tf.tidy(() => {
      const x = tf.zeros([1, 2, 4, 4]);
      const filter = tf.zeros([3, 3, 2, 3]);
      expect(() => tf.engine().runKernel(CONV_BN_KERNEL, { x, filter }, { stride: 0, pad: 1, mode: 'batch', epsilon: 1e-5 })).toThrow(/SupermaskConvBn: expected attrs stride/);
      expect(() => tf.engine().runKernel(CONV_BN_KERNEL, { x, filter: tf.zeros([3, 3, 5, 3]) }, { stride: 1, pad: 1, mode: 'batch', epsilon: 1e-5 })).toThrow(/does not fit NCHW input/);
      expect(() => tf.engine().runKernel(CONV_BN_KERNEL, { x, filter }, { stride: 1, pad: 1, mode: 'running', epsilon: 1e-5 })).toThrow(/mode running needs mean/);
    });
  });
});
