import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ortRuntime } from '@supermask/kernels-ort';
import { denseFilterGrad } from '../src/conv-bn.js';
import { denseFilterGradGemm } from '../src/dense-dw.js';
import { ORT } from './helpers.js';
import { relErr, sparseKernels, uniform } from './sparse-helpers.js';

const kernels = sparseKernels();
if (kernels.reason) console.warn(`dense-dw tests skipped: ${kernels.reason}`);

// [name, n, cin, cout, size, k, stride, pad]
const SHAPES: [string, number, number, number, number, number, number, number][] = [
  ['stem 3x3 s1 1->4 @9', 3, 1, 4, 9, 3, 1, 1],
  ['3x3 s1 20->20 @8', 3, 20, 20, 8, 3, 1, 1],
  ['3x3 s2 6->8 @9 (odd)', 2, 6, 8, 9, 3, 2, 1],
  ['3x3 s2 4->8 @8', 3, 4, 8, 8, 3, 2, 1],
  ['1x1 s2 5->7 @9 (odd)', 2, 5, 7, 9, 1, 2, 0],
  ['1x1 s1 6->3 @5', 4, 6, 3, 5, 1, 1, 0],
  ['5x5 s1 p2 3->5 @7', 2, 3, 5, 7, 5, 1, 2],
  ['3x3 s1 p0 4->4 @6', 2, 4, 4, 6, 3, 1, 0],
];

describe.skipIf(!kernels.module)('dense filter gradient as per-tap Gemms over tap rows = the per-tap graph of the dense unit', () => {
  it.each(SHAPES)('%s', async (_name, n, cin, cout, size, k, stride, pad) => {
    await tf.setBackend(ORT);
    const runtime = ortRuntime(ORT)!;
    const pool = runtime.sparseUnits(0)!;
    expect(pool).toBeDefined();
    const oh = Math.floor((size + 2 * pad - k) / stride) + 1;
    const x = uniform(n * cin * size * size, 11);
    const dc = uniform(n * cout * oh * oh, 12);
    const g = { n, cin, h: size, w: size, k, cout, oh, ow: oh, flops: 0 };
    const reference = denseFilterGrad(runtime, x, dc, g, { stride, pad, relu: false, mode: 'batch', epsilon: 1e-5 });
    // Count the buffers it takes from the runtime's arrays and gives back to its recycler.
    let taken = 0;
    let released = 0;
    const spied = runtime as unknown as { outputArrays: (length: number) => Float32Array; recycler: { release: (a: unknown) => void } };
    const { outputArrays } = spied;
    const release = spied.recycler.release.bind(spied.recycler);
    spied.outputArrays = (length) => (taken++, outputArrays(length));
    spied.recycler.release = (a) => (released++, release(a));
    let got: Float32Array;
    try {
      got = denseFilterGradGemm(runtime, pool, x, dc, { ...g, stride, pad });
    } finally {
      spied.outputArrays = outputArrays;
      delete (spied.recycler as { release?: unknown }).release;
    }
    expect(got.length).toBe(k * k * cin * cout);
    expect(relErr(got, reference)).toBeLessThanOrEqual(1e-5);
    expect(released).toBe(taken);
    // Again with the recycled (dirty) buffers: the same values.
    const again = denseFilterGradGemm(runtime, pool, x, dc, { ...g, stride, pad });
    expect(Array.from(again)).toEqual(Array.from(got));
  });
});

describe.skipIf(!kernels.module)('SupermaskConvBnGrad without a gradient mask on the sparse unit = the dense unit (the tap-row Gemms on maps of 256+ pixels)', () => {
  it.each([
    [3, 8, 8, 16, 3, 1, 1],
    [2, 4, 8, 32, 3, 2, 1],
    [2, 6, 6, 16, 1, 2, 0],
  ])('n %i, %i->%i, %ix%i, k %i, stride %i', async (n, cin, cout, size, k, stride, pad) => {
    await tf.setBackend(ORT);
    const oh = Math.floor((size + 2 * pad - k) / stride) + 1;
    const attrs = { stride, pad, relu: true, mode: 'batch', epsilon: 1e-5, skip: false };
    const run = (sparse: string): Float32Array[] => {
      process.env.SUPERMASK_SPARSE_CONV = sparse;
      try {
        return tf.tidy(() => {
          const x = tf.tensor4d(uniform(n * cin * size * size, 1), [n, cin, size, size]);
          const filter = tf.tensor4d(uniform(k * k * cin * cout, 2).map((v, i) => (i % 3 === 0 ? v : 0)), [k, k, cin, cout]);
          const [y, xhat, invstd] = tf.engine().runKernel('SupermaskConvBn', { x, filter }, attrs) as tf.Tensor[];
          const dy = tf.tensor4d(uniform(n * cout * oh * oh, 3), [n, cout, oh, oh]);
          const grads = tf.engine().runKernel('SupermaskConvBnGrad', { dy, x, filter, y: y!, xhat: xhat!, invstd: invstd! }, attrs) as tf.Tensor[];
          return grads.map((t) => Float32Array.from(t.dataSync() as Float32Array));
        });
      } finally {
        delete process.env.SUPERMASK_SPARSE_CONV;
      }
    };
    const runs = ortRuntime(ORT)!.getStats().sparseRuns;
    const sparse = run('1');
    expect(ortRuntime(ORT)!.getStats().sparseRuns).toBe(runs + 2);
    // k x k filters on these maps take the tap-row Gemms (a session of theirs exists), 1x1 ones the per-tap graph.
    expect(ortRuntime(ORT)!.sessionKeys().some((key) => key.startsWith(`FilterGradGemm|${k}|${cin}|${cout}|`))).toBe(k > 1);
    const dense = run('0');
    expect(relErr(sparse[0]!, dense[0]!)).toBeLessThanOrEqual(1e-4);
    expect(relErr(sparse[1]!, dense[1]!)).toBeLessThanOrEqual(1e-4);
  });
});
