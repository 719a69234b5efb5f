import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { CONV_BN_GRAD_KERNEL, CONV_BN_KERNEL } from '@supermask/kernels-ort';
import { filterDensity, sparseConvBnBackward, sparseConvBnForward } from '../src/sparse-conv.js';
import type { SparseConvAttrs } from '../src/sparse-conv.js';
import { ORT } from './helpers.js';
import { outSize, relErr, serialPool, sparseFilter, sparseKernels, uniform } from './sparse-helpers.js';

const kernels = sparseKernels();
if (kernels.reason) console.warn(`sparse-vs-ort tests skipped: ${kernels.reason}`);
const pool = kernels.module ? serialPool(kernels.module) : undefined;
afterAll(() => pool?.dispose());

// [name, n, cin, cout, size, k, stride, pad, relu, mode, skip]
const UNITS: [string, number, number, number, number, number, number, number, boolean, 'batch' | 'running', boolean][] = [
  ['3x3 s1 20->20 16x16 relu skip', 4, 20, 20, 16, 3, 1, 1, true, 'batch', true],
  ['3x3 s2 20->40 16x16 relu', 3, 20, 40, 16, 3, 2, 1, true, 'batch', false],
  ['1x1 s2 40->80 8x8 shortcut', 4, 40, 80, 8, 1, 2, 0, false, 'batch', false],
  ['3x3 s1 80->80 4x4 running relu skip', 5, 80, 80, 4, 3, 1, 1, true, 'running', true],
];

describe.skipIf(!pool)('sparse unit against the ONNX Runtime unit (SupermaskConvBn / SupermaskConvBnGrad on cpu-ort)', () => {
  it.each(UNITS)('%s', async (_name, n, cin, cout, size, k, stride, pad, relu, mode, withSkip) => {
    await tf.setBackend(ORT);
    const oh = outSize(size, k, stride, pad);
    const x = uniform(n * cin * size * size, 1);
    const filter = sparseFilter(k * k * cin * cout, 0.1, 2);
    expect(filterDensity(filter)).toBeLessThan(0.2);
    const skip = withSkip ? uniform(n * cout * oh * oh, 3) : undefined;
    const mean = mode === 'running' ? uniform(cout, 4, -0.3, 0.3) : undefined;
    const variance = mode === 'running' ? uniform(cout, 5, 0.2, 2) : undefined;
    const dy = uniform(n * cout * oh * oh, 6);
    const attrs: SparseConvAttrs = { stride, pad, relu, mode, epsilon: 1e-5 };
    const outShape = [n, cout, oh, oh];
    const ort = tf.tidy(() => {
      const inputs: Record<string, tf.Tensor> = { x: tf.tensor4d(x, [n, cin, size, size]), filter: tf.tensor4d(filter, [k, k, cin, cout]) };
      if (skip) inputs.skip = tf.tensor(skip, outShape);
      if (mean) {
        inputs.mean = tf.tensor1d(mean);
        inputs.variance = tf.tensor1d(variance!);
      }
      const fw = tf.engine().runKernel(CONV_BN_KERNEL, inputs, { ...attrs }) as tf.Tensor[];
      const bw = tf.engine().runKernel(CONV_BN_GRAD_KERNEL, { dy: tf.tensor(dy, outShape), x: inputs.x!, filter: inputs.filter!, y: fw[0]!, xhat: fw[1]!, invstd: fw[2]! }, { ...attrs, skip: withSkip }) as tf.Tensor[];
      return [...fw, ...bw].map((t) => t.dataSync() as Float32Array);
    });
    const fw = sparseConvBnForward(pool!, { x, xShape: [n, cin, size, size], filter, filterShape: [k, k, cin, cout], skip, mean, variance, attrs });
    [fw.y, fw.xhat, fw.invstd, fw.mean, fw.variance].forEach((v, i) => expect(relErr(v, ort[i]!)).toBeLessThan(1e-4));
    // Backward from the ONNX Runtime forward's saved values; dfilter at the filter's support (weight phase) and dense.
    const [, , , , , ortDx, ortDw, ortDskip] = ort;
    const gradMask = filter.map((v) => (v !== 0 ? 1 : 0));
    const input = { dy, x, xShape: [n, cin, size, size] as const, filter, filterShape: [k, k, cin, cout] as const, y: ort[0]!, xhat: ort[1]!, invstd: ort[2]!, skip: withSkip, attrs };
    const masked = sparseConvBnBackward(pool!, { ...input, gradMask });
    expect(relErr(masked.dx, ortDx!)).toBeLessThan(1e-4);
    expect(relErr(masked.dfilter!, ortDw!.map((v, i) => (gradMask[i] ? v : 0)))).toBeLessThan(1e-4);
    if (withSkip) expect(relErr(masked.dskip!, ortDskip!)).toBeLessThan(1e-4);
    const dense = sparseConvBnBackward(pool!, input);
    expect(relErr(dense.dx, ortDx!)).toBeLessThan(1e-4);
    // The caller's dense dW from dc (here in JS) is ONNX Runtime's dW.
    const dw = new Float64Array(filter.length);
    for (let m = 0; m < n; m++)
      for (let o = 0; o < cout; o++)
        for (let r = 0; r < oh; r++)
          for (let q = 0; q < oh; q++) {
            const d = dense.dc![((m * cout + o) * oh + r) * oh + q]!;
            for (let kh = 0; kh < k; kh++)
              for (let kw = 0; kw < k; kw++) {
                const hh = r * stride + kh - pad;
                const ww = q * stride + kw - pad;
                if (hh < 0 || hh >= size || ww < 0 || ww >= size) continue;
                for (let i = 0; i < cin; i++) dw[((kh * k + kw) * cin + i) * cout + o]! += d * x[((m * cin + i) * size + hh) * size + ww]!;
              }
          }
    expect(relErr(dw, ortDw!)).toBeLessThan(1e-4);
  });
});
