import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { ArrayRecycler, CONV_BN_KERNEL, OrtRuntime, ortRuntime } from '@supermask/kernels-ort';
import { ORT } from './helpers.js';
import { sparseFilter, sparseKernels, uniform } from './sparse-helpers.js';

describe('ArrayRecycler', () => {
  it('hands a released array out again for the same length, each once', () => {
    const r = new ArrayRecycler();
    const a = r.take(1000);
    expect(r.owns(a)).toBe(true);
    r.release(a);
    expect(r.owns(a)).toBe(false);
    expect(r.pooledBytes).toBe(4000);
    r.release(a); // a second release is ignored
    expect(r.pooledBytes).toBe(4000);
    expect(r.take(999)).not.toBe(a);
    const b = r.take(1000);
    expect(b).toBe(a);
    expect(r.take(1000)).not.toBe(a);
    expect(r.pooledBytes).toBe(0);
  });

  it('never takes back a view or a foreign array', () => {
    const r = new ArrayRecycler(4000);
    const a = r.take(1000);
    const view = a.subarray(0, 1000);
    expect(r.isViewOf(view)).toBe(true);
    expect(r.isViewOf(a)).toBe(false);
    r.release(view);
    r.release(new Float32Array(1000));
    expect(r.pooledBytes).toBe(0);
  });

  it('keeps its byte budget by dropping the oldest pooled arrays', () => {
    const r = new ArrayRecycler(4000);
    const old = r.take(250);
    const a = r.take(500);
    const b = r.take(250);
    const c = r.take(250);
    r.release(old);
    r.release(a);
    r.release(b);
    expect(r.pooledBytes).toBe(4000);
    r.release(c); // over budget: the oldest (old) goes
    expect(r.pooledBytes).toBe(4000);
    expect(r.take(250)).toBe(c);
    expect(r.take(250)).toBe(b);
    expect(r.take(250)).not.toBe(old);
    expect(r.take(500)).toBe(a);
    expect(r.pooledBytes).toBe(0);
    r.release(r.take(2000)); // larger than the whole budget: never pooled
    expect(r.pooledBytes).toBe(0);
  });
});

const kernels = sparseKernels();
describe.skipIf(!kernels.module)('cpu-ort: sparse unit outputs are recycled safely', () => {
  afterEach(() => {
    delete process.env.SUPERMASK_SPARSE_CONV;
  });
  const unit = (seed: number): tf.Tensor[] => {
    const x = tf.tensor4d(uniform(2 * 4 * 6 * 6, seed), [2, 4, 6, 6]);
    const filter = tf.tensor4d(sparseFilter(3 * 3 * 4 * 4, 0.3, seed + 1), [3, 3, 4, 4]);
    const out = tf.engine().runKernel(CONV_BN_KERNEL, { x, filter }, { stride: 1, pad: 1, relu: false, mode: 'batch', epsilon: 1e-5 }) as tf.Tensor[];
    tf.dispose([x, filter]);
    return out;
  };

  it('disposed outputs are reused; what dataSync returned and contiguous slices keep their values', async () => {
    await tf.setBackend(ORT);
    process.env.SUPERMASK_SPARSE_CONV = '1';
    const runtime = ortRuntime(ORT)!;
    const before = tf.memory().numTensors;
    const first = unit(1);
    const read = first[0]!.dataSync();
    const expected = Float32Array.from(read);
    const whole = tf.slice(first[0]!, [0, 0, 0, 0], first[0]!.shape as number[]);
    const rows = tf.slice(first[1]!, [1, 0, 0, 0], [1, 4, 6, 6]);
    const rowsExpected = Float32Array.from(rows.dataSync());
    const runs = runtime.getStats().sparseRuns;
    tf.dispose(first);
    expect(runtime.recycler.pooledBytes).toBeGreaterThan(0);
    const pooled = runtime.recycler.pooledBytes;
    const second = unit(7);
    expect(runtime.getStats().sparseRuns).toBe(runs + 1);
    // The second call took the first call's arrays back ...
    expect(runtime.recycler.pooledBytes).toBeLessThan(pooled);
    // ... and wrote other values into them, yet nothing read or sliced before changed.
    expect(Array.from(second[0]!.dataSync())).not.toEqual(Array.from(expected));
    expect(Array.from(read)).toEqual(Array.from(expected));
    expect(Array.from(whole.dataSync())).toEqual(Array.from(expected));
    expect(Array.from(rows.dataSync())).toEqual(Array.from(rowsExpected));
    tf.dispose([...second, whole, rows]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe.skipIf(!kernels.module)('cpu-ort: kernels that read recycled arrays', () => {
  it('Gather reads a recycled unit output without a copy and gives the right rows', async () => {
    await tf.setBackend(ORT);
    process.env.SUPERMASK_SPARSE_CONV = '1';
    try {
      const x = tf.tensor4d(uniform(2 * 4 * 6 * 6, 3), [2, 4, 6, 6]);
      const filter = tf.tensor4d(sparseFilter(3 * 3 * 4 * 4, 0.3, 4), [3, 3, 4, 4]);
      const [y, ...rest] = tf.engine().runKernel(CONV_BN_KERNEL, { x, filter }, { stride: 1, pad: 1, relu: false, mode: 'batch', epsilon: 1e-5 }) as tf.Tensor[];
      expect(ortRuntime(ORT)!.recycler.owns((tf.backend() as unknown as { data: { get(id: unknown): { values: unknown } } }).data.get(y!.dataId).values)).toBe(true);
      const all = Float32Array.from(y!.dataSync());
      const second = tf.gather(y!, [1]);
      expect(Array.from(second.dataSync())).toEqual(Array.from(all.subarray(4 * 36)));
      tf.dispose([x, filter, y!, ...rest, second]);
    } finally {
      delete process.env.SUPERMASK_SPARSE_CONV;
    }
  });
});

describe('OrtRuntime: when a unit runs sparse', () => {
  afterEach(() => {
    delete process.env.SUPERMASK_SPARSE_CONV;
    delete process.env.SUPERMASK_SPARSE_DENSITY;
  });
  it('sparseDensity 0 turns the sparse units off, even for an all-zero filter', () => {
    const off = new OrtRuntime({ sparseDensity: 0 });
    try {
      expect(off.sparseUnits(0)).toBeUndefined();
      expect(off.sparseUnits(0.1)).toBeUndefined();
    } finally {
      off.dispose();
    }
  });
  it('bad settings are errors naming the variable or option', () => {
    process.env.SUPERMASK_SPARSE_DENSITY = 'lots';
    expect(() => new OrtRuntime()).toThrow(/SUPERMASK_SPARSE_DENSITY must be a number in \[0, 1\].*"lots"/);
    delete process.env.SUPERMASK_SPARSE_DENSITY;
    expect(() => new OrtRuntime({ sparseDensity: 2 })).toThrow(/sparseDensity must be a number in \[0, 1\]/);
    const runtime = new OrtRuntime();
    try {
      process.env.SUPERMASK_SPARSE_CONV = 'off';
      expect(() => runtime.sparseUnits(0.1)).toThrow(/SUPERMASK_SPARSE_CONV must be 0 .* or 1 .*"off"/);
      process.env.SUPERMASK_SPARSE_CONV = '0';
      expect(runtime.sparseUnits(0.01)).toBeUndefined();
    } finally {
      runtime.dispose();
    }
  });
});
