import { afterAll, describe, expect, it } from 'vitest';
import { filterDensity, sparseConvBnBackward, sparseConvBnForward } from '../src/sparse-conv.js';
import type { SparseConvAttrs, SparseConvBnBackwardInput, SparseConvBnForwardInput } from '../src/sparse-conv.js';
import { createWasmPool } from '@supermask/kernels-ort';
import type { WasmPool } from '@supermask/kernels-ort';
import { mask01, outSize, refBackward, refForward, relErr, serialPool, sparseFilter, sparseKernels, splitPool, uniform } from './sparse-helpers.js';
import type { UnitCase } from './sparse-helpers.js';

const kernels = sparseKernels();
if (kernels.reason) console.warn(`sparse-conv tests skipped: ${kernels.reason}`);
const base = kernels.module ? serialPool(kernels.module) : undefined;
afterAll(() => base?.dispose());

const TOL = 1e-4;

interface Built {
  u: UnitCase;
  fwd: SparseConvBnForwardInput;
  skip?: Float32Array;
  running?: { mean: Float32Array; variance: Float32Array };
}

function build(u: UnitCase, density: number, seed: number): Built {
  const x = uniform(u.n * u.cin * u.h * u.w, seed);
  const filter = sparseFilter(u.k * u.k * u.cin * u.cout, density, seed + 1);
  const oh = outSize(u.h, u.k, u.stride, u.pad);
  const ow = outSize(u.w, u.k, u.stride, u.pad);
  const skip = u.skip ? uniform(u.n * u.cout * oh * ow, seed + 2) : undefined;
  const running = u.mode === 'running' ? { mean: uniform(u.cout, seed + 3, -0.3, 0.3), variance: uniform(u.cout, seed + 4, 0.2, 2) } : undefined;
  const attrs: SparseConvAttrs = { stride: u.stride, pad: u.pad, relu: u.relu, mode: u.mode, epsilon: u.epsilon };
  return {
    u,
    skip,
    running,
    fwd: { x, xShape: [u.n, u.cin, u.h, u.w], filter, filterShape: [u.k, u.k, u.cin, u.cout], skip, mean: running?.mean, variance: running?.variance, attrs },
  };
}

const f32 = (a: Float64Array): Float32Array => Float32Array.from(a);

function backwardInput(b: Built, fw: { y: Float32Array; xhat: Float32Array; invstd: Float32Array }, dy: Float32Array, gradMask?: Float32Array): SparseConvBnBackwardInput {
  const { x, xShape, filter, filterShape, attrs } = b.fwd;
  return { dy, x, xShape, filter, filterShape, y: fw.y, xhat: fw.xhat, invstd: fw.invstd, gradMask, skip: b.u.skip, attrs };
}

/** Forward and backward (with and without a gradMask) against the float64 reference. */
function checkUnit(pool: WasmPool, u: UnitCase, density: number, seed: number): void {
  const b = build(u, density, seed);
  const ref = refForward(u, b.fwd.x, b.fwd.filter, b.skip, b.running);
  const got = sparseConvBnForward(pool, b.fwd);
  expect(got.outShape).toEqual([u.n, u.cout, outSize(u.h, u.k, u.stride, u.pad), outSize(u.w, u.k, u.stride, u.pad)]);
  expect(relErr(got.y, ref.y)).toBeLessThan(TOL);
  expect(relErr(got.xhat, ref.xhat)).toBeLessThan(TOL);
  expect(relErr(got.invstd, ref.invstd)).toBeLessThan(TOL);
  expect(relErr(got.mean, ref.mean)).toBeLessThan(TOL);
  expect(relErr(got.variance, ref.variance)).toBeLessThan(TOL);
  // Backward from the reference's saved values (float32), as the unit would get them.
  const saved = { y: f32(ref.y), xhat: f32(ref.xhat), invstd: f32(ref.invstd) };
  const dy = uniform(got.y.length, seed + 5);
  const rb = refBackward(u, dy, b.fwd.x, b.fwd.filter, saved.y, saved.xhat, saved.invstd);
  const dense = sparseConvBnBackward(pool, backwardInput(b, saved, dy));
  expect(relErr(dense.dx, rb.dx)).toBeLessThan(TOL);
  expect(relErr(dense.dc!, rb.dc)).toBeLessThan(TOL);
  expect(dense.dfilter).toBeUndefined();
  if (u.skip) expect(relErr(dense.dskip!, rb.dskip)).toBeLessThan(TOL);
  else expect(dense.dskip).toBeUndefined();
  const gradMask = mask01(b.fwd.filter.length, 0.3, seed + 6);
  const masked = sparseConvBnBackward(pool, backwardInput(b, saved, dy, gradMask));
  expect(masked.dc).toBeUndefined();
  expect(relErr(masked.dx, rb.dx)).toBeLessThan(TOL);
  const expectedDw = rb.dfilter.map((v, i) => (gradMask[i] ? v : 0));
  expect(relErr(masked.dfilter!, expectedDw)).toBeLessThan(TOL);
  for (let i = 0; i < gradMask.length; i++) if (!gradMask[i]) expect(masked.dfilter![i]).toBe(0);
}

const unit = (p: Partial<UnitCase>): UnitCase => ({ n: 2, cin: 3, h: 8, w: 8, k: 3, cout: 4, stride: 1, pad: 1, relu: true, mode: 'batch', skip: false, epsilon: 1e-5, ...p });

// name, unit, density
const CASES: [string, UnitCase, number][] = [
  ['3x3 s1 p1 7x9 3->20 skip relu', unit({ n: 2, cin: 3, cout: 20, h: 7, w: 9, skip: true }), 0.5],
  ['3x3 s1 p1 16x16 20->20 batch 5', unit({ n: 5, cin: 20, cout: 20, h: 16, w: 16 }), 0.1],
  ['3x3 s1 p1 4x4 40->40 batch 11 (chunks of 8, the last partial)', unit({ n: 11, cin: 40, cout: 40, h: 4, w: 4, skip: true }), 0.1],
  ['3x3 s1 p1 8x8 20->40 running no relu', unit({ n: 2, cin: 20, cout: 40, mode: 'running', relu: false }), 0.05],
  ['3x3 s2 p1 16x16 20->40', unit({ n: 2, cin: 20, cout: 40, h: 16, w: 16, stride: 2 }), 0.1],
  ['3x3 s2 p1 7x9 3->3 running skip', unit({ n: 5, cin: 3, cout: 3, h: 7, w: 9, stride: 2, mode: 'running', skip: true }), 1.0],
  ['3x3 s2 p1 8x8 40->40 batch 1', unit({ n: 1, cin: 40, cout: 40, h: 8, w: 8, stride: 2 }), 0.5],
  ['1x1 s2 p0 16x16 20->40', unit({ n: 2, cin: 20, cout: 40, h: 16, w: 16, k: 1, stride: 2, pad: 0, relu: false }), 0.1],
  ['1x1 s2 p0 9x7 3->20 batch 5', unit({ n: 5, cin: 3, cout: 20, h: 9, w: 7, k: 1, stride: 2, pad: 0 }), 1.0],
  ['1x1 s1 p0 5x5 40->20 batch 1', unit({ n: 1, cin: 40, cout: 20, h: 5, w: 5, k: 1, pad: 0 }), 0.5],
  ['5x5 s1 p2 9x7 3->3', unit({ n: 2, cin: 3, cout: 3, h: 9, w: 7, k: 5, pad: 2 }), 0.5],
  ['5x5 s2 p2 11x10 3->20 skip', unit({ n: 2, cin: 3, cout: 20, h: 11, w: 10, k: 5, stride: 2, pad: 2, skip: true }), 0.5],
  ['3x3 s1 p0 9x9 20->3', unit({ n: 2, cin: 20, cout: 3, h: 9, w: 9, pad: 0 }), 0.5],
  ['stem 3x3 s1 p1 12x12 1->20', unit({ n: 2, cin: 1, cout: 20, h: 12, w: 12 }), 0.1],
  ['3x3 s1 p1 4x4 1->1 batch 1 dense', unit({ n: 1, cin: 1, cout: 1, h: 4, w: 4, relu: false }), 1.0],
  ['2x2 s2 p0 9x8 3->5 (even kernel)', unit({ n: 3, cin: 3, cout: 5, h: 9, w: 8, k: 2, stride: 2, pad: 0 }), 0.5],
  ['3x3 s3 p1 10x11 3->4 (stride 3)', unit({ n: 2, cin: 3, cout: 4, h: 10, w: 11, stride: 3, skip: true }), 0.5],
  ['1x1 s1 p1 5x6 4->3 (padding wider than the filter)', unit({ n: 2, cin: 4, cout: 3, h: 5, w: 6, k: 1, pad: 1 }), 1.0],
];

describe.skipIf(!base)('sparse conv + batch-norm unit (WebAssembly) against a float64 reference', () => {
  it.each(CASES)('%s', (_name, u, density) => {
    checkUnit(base!, u, density, 11 + u.cin * 7 + u.h);
  });

  it('treats an all-zero output channel (c = 0: mean 0, variance 0, xhat 0)', () => {
    const u = unit({ n: 3, cin: 4, cout: 5, h: 6, w: 6, skip: true });
    const b = build(u, 0.5, 99);
    for (let q = 2; q < b.fwd.filter.length; q += u.cout) b.fwd.filter[q] = 0; // output channel 2
    const got = sparseConvBnForward(base!, b.fwd);
    const ref = refForward(u, b.fwd.x, b.fwd.filter, b.skip);
    expect(got.mean[2]).toBe(0);
    expect(got.variance[2]).toBe(0);
    expect(relErr(got.y, ref.y)).toBeLessThan(TOL);
    expect(relErr(got.xhat, ref.xhat)).toBeLessThan(TOL);
    const dy = uniform(got.y.length, 5);
    const rb = refBackward(u, dy, b.fwd.x, b.fwd.filter, got.y, got.xhat, got.invstd);
    const out = sparseConvBnBackward(base!, backwardInput(b, got, dy, mask01(b.fwd.filter.length, 1, 1)));
    expect(relErr(out.dx, rb.dx)).toBeLessThan(TOL);
    expect(relErr(out.dfilter!, rb.dfilter)).toBeLessThan(TOL);
    // An all-zero filter: dx is 0, dW still flows.
    b.fwd.filter.fill(0);
    const zero = sparseConvBnBackward(base!, backwardInput(b, got, dy, mask01(b.fwd.filter.length, 1, 1)));
    expect(zero.dx.every((v) => v === 0)).toBe(true);
    // dW does not depend on the filter's values: the same as with the filter.
    expect(relErr(zero.dfilter!, rb.dfilter)).toBeLessThan(TOL);
    expect(filterDensity(b.fwd.filter)).toBe(0);
  });

  it('gives bit-equal outputs whatever the split of the items (1, 2, 3 ranges; 2 and 3 worker threads)', () => {
    const threaded = [2, 3].map((threads) => createWasmPool(kernels.module!, { threads }));
    const units: [UnitCase, number][] = [
      [unit({ n: 20, cin: 40, cout: 40, h: 4, w: 4, skip: true }), 0.1], // 3 chunks of 8 images, 3 dW blocks
      [unit({ n: 17, cin: 6, cout: 8, h: 9, w: 9, stride: 2 }), 0.3],
    ];
    for (const [u, density] of units) {
      const b = build(u, density, 3);
      const pools = [...[1, 2, 3].map((ranges) => splitPool(base!, ranges)), ...threaded];
      const results = pools.map((pool) => {
        const fw = sparseConvBnForward(pool, b.fwd);
        const dy = uniform(fw.y.length, 8);
        const masked = sparseConvBnBackward(pool, backwardInput(b, fw, dy, mask01(b.fwd.filter.length, 0.5, 2)));
        const dense = sparseConvBnBackward(pool, backwardInput(b, fw, dy));
        return [fw.y, fw.xhat, fw.invstd, fw.mean, fw.variance, masked.dx, masked.dfilter!, masked.dskip ?? new Float32Array(0), dense.dc!];
      });
      for (const r of results.slice(1)) {
        r.forEach((a, i) => expect(Buffer.from(a.buffer).equals(Buffer.from(results[0]![i]!.buffer))).toBe(true));
      }
    }
    for (const pool of threaded) pool.dispose();
  });

  it('never uses cached entry lists or density of an array whose values changed, nor of another shape', () => {
    const u = unit({ n: 3, cin: 6, cout: 8, h: 8, w: 8, skip: true });
    const b = build(u, 0.3, 31);
    const same = (a: Float32Array, c: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    // The same arrays (filter, gradMask) reused across calls, as tfjs passes them, against fresh copies.
    const run = (filter: Float32Array, gradMask: Float32Array, x: Float32Array, xShape: [number, number, number, number], skip?: Float32Array) => {
      const fwd = { ...b.fwd, x, xShape, filter, skip };
      const fw = sparseConvBnForward(base!, fwd);
      const bw = sparseConvBnBackward(base!, { ...backwardInput(b, fw, uniform(fw.y.length, 9), gradMask), x, xShape, filter });
      return [fw.y, fw.xhat, bw.dx, bw.dfilter!];
    };
    const filter = b.fwd.filter;
    const gradMask = mask01(filter.length, 0.5, 3);
    const check = (x: Float32Array, xShape: [number, number, number, number], skip?: Float32Array): void => {
      const got = run(filter, gradMask, x, xShape, skip);
      const want = run(filter.slice(), gradMask.slice(), x, xShape, skip);
      got.forEach((a, i) => expect(same(a, want[i]!)).toBe(true));
    };
    check(b.fwd.x, [3, 6, 8, 8], b.skip);
    expect(filterDensity(filter)).toBeCloseTo(filter.filter((v) => v !== 0).length / filter.length, 12);
    // Values changed in place (a recycled array, a caller's write): new lists, new density.
    for (let i = 0; i < filter.length; i += 3) filter[i] = filter[i] === 0 ? 0.5 : 0;
    for (let i = 1; i < gradMask.length; i += 4) gradMask[i] = 1 - gradMask[i]!;
    check(b.fwd.x, [3, 6, 8, 8], b.skip);
    expect(filterDensity(filter)).toBeCloseTo(filter.filter((v) => v !== 0).length / filter.length, 12);
    // The same arrays on another shape (other plane strides, chunks of more images): lists of that layout.
    const oh = outSize(4, u.k, u.stride, u.pad);
    check(uniform(5 * 6 * 4 * 4, 41), [5, 6, 4, 4], uniform(5 * 8 * oh * oh, 42));
    const fw = sparseConvBnForward(base!, { ...b.fwd, x: uniform(5 * 6 * 4 * 4, 41), xShape: [5, 6, 4, 4], skip: uniform(5 * 8 * oh * oh, 42) });
    const ref = refForward({ ...u, n: 5, h: 4, w: 4 }, uniform(5 * 6 * 4 * 4, 41), filter, uniform(5 * 8 * oh * oh, 42));
    expect(relErr(fw.y, ref.y)).toBeLessThan(TOL);
  });

  it('matches finite differences of its own forward (dx, dfilter at a support, dskip)', () => {
    const u = unit({ n: 2, cin: 2, cout: 3, h: 5, w: 4, skip: true, relu: false });
    const b = build(u, 0.6, 21);
    const fw = sparseConvBnForward(base!, b.fwd);
    const r = uniform(fw.y.length, 77);
    const loss = (inp: SparseConvBnForwardInput): number => {
      const y = sparseConvBnForward(base!, inp).y;
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i]! * r[i]!;
      return s;
    };
    const gradMask = mask01(b.fwd.filter.length, 0.5, 4);
    const grads = sparseConvBnBackward(base!, backwardInput(b, fw, r, gradMask));
    const h = 1e-2;
    const fd = (arr: Float32Array, i: number): number => {
      const keep = arr[i]!;
      arr[i] = keep + h;
      const up = loss(b.fwd);
      arr[i] = keep - h;
      const down = loss(b.fwd);
      arr[i] = keep;
      return (up - down) / (2 * h);
    };
    const scale = (g: Float32Array): number => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (const i of [0, 7, 19, 33, 50, 79]) expect(Math.abs(fd(b.fwd.x, i) - grads.dx[i]!)).toBeLessThan(2e-2 * scale(grads.dx));
    for (let i = 0; i < gradMask.length; i++) {
      if (gradMask[i]) expect(Math.abs(fd(b.fwd.filter, i) - grads.dfilter![i]!)).toBeLessThan(2e-2 * scale(grads.dfilter!));
    }
    for (const i of [0, 11, 40]) expect(Math.abs(fd(b.skip!, i) - grads.dskip![i]!)).toBeLessThan(2e-2 * scale(grads.dskip!));
  });

  it('checks its inputs', () => {
    const b = build(unit({}), 0.5, 1);
    expect(() => sparseConvBnForward(base!, { ...b.fwd, x: b.fwd.x.subarray(1) })).toThrow(/x must be a Float32Array of 384 values, got 383/);
    expect(() => sparseConvBnForward(base!, { ...b.fwd, filterShape: [3, 3, 2, 4] })).toThrow(/does not fit NCHW input/);
    expect(() => sparseConvBnForward(base!, { ...b.fwd, attrs: { ...b.fwd.attrs, mode: 'running' } })).toThrow(/mean must be a Float32Array of 4 values/);
    expect(filterDensity(new Float32Array([0, 1, 0, 2]))).toBe(0.5);
  });
});
