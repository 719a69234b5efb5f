import type { ConvBnMode } from './conv-bn.js';
import type { WasmPool } from './wasm-pool.js';

/**
 * The conv + non-affine batch norm (+ skip) (+ ReLU) unit of conv-bn.ts computed sparsely in WebAssembly
 * (wasm/sparse.c) on a `WasmPool`: the convolutions visit only the filter's nonzeros, so a supermask's
 * effective weight W * M at density 0.1 costs about a tenth of the dense work.
 *
 * Layouts inside the wasm memory (float32): a k x k correlation at stride s over the input padded to Hp x Wp is
 * split into s * s phase planes of Hq x Wq (Hq = ceil(Hp / s), Wq = ceil(Wp / s)); output row oh, column ow
 * sits at the flat index oh * Wq + ow of its plane (columns ow >= OW are garbage), and every nonzero
 * w[kh][kw][i][o] is one entry (plane i * s * s + (kh % s) * s + kw % s, offset (kh / s) * Wq + kw / s, value):
 * out[o][t] = sum of value * plane[t + offset], a contiguous SIMD axpy. Images are grouped in chunks whose
 * planes of one channel follow each other (see `chunkImages`), so small maps still run long sweeps.
 * dx is the same correlation from dc (flat, zero garbage columns, a margin of F zeros in front) to the phase
 * planes of the padded input's gradient, then cropped and interleaved to dense NCHW.
 */

/** Attributes of the unit (as conv-bn.ts's kernels take them). */
export interface SparseConvAttrs {
  stride: number;
  pad: number;
  relu: boolean;
  mode: ConvBnMode;
  epsilon: number;
}

export interface SparseConvBnForwardInput {
  /** Input, NCHW. */
  x: Float32Array;
  xShape: readonly [number, number, number, number];
  /** Effective filter W * M, tfjs layout [k, k, in, out]. */
  filter: Float32Array;
  filterShape: readonly [number, number, number, number];
  /** Residual added before the ReLU, [N, out, OH, OW]. */
  skip?: Float32Array;
  /** Running statistics (mode running), [out] each. */
  mean?: Float32Array;
  variance?: Float32Array;
  attrs: SparseConvAttrs;
}

export interface SparseConvBnForwardOutput {
  /** [N, out, OH, OW]. */
  y: Float32Array;
  /** Normalised conv output (c - mean) * invstd, [N, out, OH, OW]. */
  xhat: Float32Array;
  /** 1 / sqrt(variance + epsilon), [out]. */
  invstd: Float32Array;
  /** Statistics used: the batch's (biased variance) or the given running ones, [out] each. */
  mean: Float32Array;
  variance: Float32Array;
  outShape: [number, number, number, number];
}

export interface SparseConvBnBackwardInput {
  /** Gradient of y, [N, out, OH, OW]. */
  dy: Float32Array;
  x: Float32Array;
  xShape: readonly [number, number, number, number];
  filter: Float32Array;
  filterShape: readonly [number, number, number, number];
  /** What the forward returned. */
  y: Float32Array;
  xhat: Float32Array;
  invstd: Float32Array;
  /** 0/1 [k, k, in, out]: dfilter is computed where it is not 0 (0 elsewhere); absent: dense dc is returned instead. */
  gradMask?: Float32Array;
  /** Whether the forward had a skip input (then dskip is returned). */
  skip: boolean;
  attrs: SparseConvAttrs;
}

export interface SparseConvBnBackwardOutput {
  /** [N, in, H, W]. */
  dx: Float32Array;
  /** Gradient of the skip input (the ReLU-masked dy), [N, out, OH, OW]; with `skip` only. */
  dskip?: Float32Array;
  /** [k, k, in, out], nonzero only where gradMask is: with `gradMask` only. */
  dfilter?: Float32Array;
  /** Gradient of the conv output, dense NCHW [N, out, OH, OW]: without `gradMask` only (dense dW is the caller's). */
  dc?: Float32Array;
}

/** Fraction of nonzero values of a filter (the caller runs the sparse unit below some density). */
export function filterDensity(filter: Float32Array): number {
  let nz = 0;
  for (let i = 0; i < filter.length; i++) if (filter[i] !== 0) nz++;
  return filter.length === 0 ? 0 : nz / filter.length;
}

/** A chunk of images spans at least this many floats of output per plane (long sweeps on small maps). */
const CHUNK_FLOATS = 192;

const up4 = (v: number): number => (v + 3) & ~3;

interface Plan {
  n: number;
  cin: number;
  h: number;
  w: number;
  k: number;
  cout: number;
  s: number;
  p: number;
  oh: number;
  ow: number;
  hq: number;
  wq: number;
  /** Phase planes per input channel (s * s). */
  s2: number;
  /** Images per chunk, chunks, and a plane row's width (b * wq). */
  b: number;
  chunks: number;
  wc: number;
  /** Largest tap offset (floats) = the front margin of dc' planes. */
  f: number;
  /** Plane strides: padded input, forward output, dc', dx phases. */
  px: number;
  po: number;
  pd: number;
  pdx: number;
}

function planOf(kernel: string, xShape: readonly number[], filterShape: readonly number[], a: SparseConvAttrs): Plan {
  if (xShape.length !== 4 || filterShape.length !== 4) throw new Error(`${kernel}: expected x [N, C, H, W] and filter [k, k, in, out], got [${xShape}] and [${filterShape}]`);
  const [n, cin, h, w] = xShape as [number, number, number, number];
  const [k, k2, fin, cout] = filterShape as [number, number, number, number];
  if (![n, cin, h, w, k, cout].every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`${kernel}: shapes must be positive integers, got x [${xShape}], filter [${filterShape}]`);
  if (k !== k2 || fin !== cin) throw new Error(`${kernel}: filter [${filterShape}] does not fit NCHW input [${xShape}] (expected [k, k, ${cin}, out])`);
  const { stride: s, pad: p } = a;
  if (!Number.isInteger(s) || s < 1 || !Number.isInteger(p) || p < 0 || (a.mode !== 'batch' && a.mode !== 'running') || !(a.epsilon > 0)) {
    throw new Error(`${kernel}: expected attrs stride (integer >= 1), pad (integer >= 0), mode 'batch' or 'running', epsilon > 0`);
  }
  const hp = h + 2 * p;
  const wp = w + 2 * p;
  const oh = Math.floor((hp - k) / s) + 1;
  const ow = Math.floor((wp - k) / s) + 1;
  if (oh < 1 || ow < 1) throw new Error(`${kernel}: a ${k}x${k} filter with padding ${p} does not fit a ${h}x${w} input`);
  const hq = Math.ceil(hp / s);
  const wq = Math.ceil(wp / s);
  const b = Math.max(1, Math.min(n, Math.ceil(CHUNK_FLOATS / (oh * wq))));
  const wc = b * wq;
  const kq = Math.floor((k - 1) / s);
  const f = kq * wc + kq;
  return {
    n, cin, h, w, k, cout, s, p, oh, ow, hq, wq, s2: s * s, b, chunks: Math.ceil(n / b), wc, f,
    px: up4(hq * wc + f + 4),
    po: up4(oh * wc),
    pd: up4(f + hq * wc + 4),
    pdx: up4(hq * wc) + 4,
  };
}

function checkLength(kernel: string, name: string, v: Float32Array | undefined, length: number): Float32Array {
  if (!(v instanceof Float32Array) || v.length !== length) throw new Error(`${kernel}: ${name} must be a Float32Array of ${length} values, got ${v instanceof Float32Array ? v.length : typeof v}`);
  return v;
}

/** Copies `src` into a fresh allocation; returns its byte offset. */
function put(pool: WasmPool, src: Float32Array | Int32Array): number {
  const at = pool.alloc(src.byteLength);
  (src instanceof Float32Array ? pool.f32() : pool.i32()).set(src, at / 4);
  return at;
}

/** Allocates `planes` planes of `plane` floats per chunk, + 64 zero floats that vector loads past the end read. */
function allocPlanes(pool: WasmPool, g: Plan, planes: number, plane: number): number {
  const floats = g.chunks * planes * plane + 64;
  const at = pool.alloc(floats * 4);
  pool.f32().fill(0, at / 4 + floats - 64, at / 4 + floats);
  return at;
}

interface Entries {
  start: number;
  idx: number;
  val: number;
  count: number;
}

const ENTRIES_FORWARD = 0;
const ENTRIES_DX = 1;
const ENTRIES_DW = 2;

/**
 * Entry lists of the nonzeros of `a` (copied into the memory at `aAt`), built by sp_entries: kind ENTRIES_FORWARD
 * (per output channel, source plane * Px + offset), ENTRIES_DX (per input phase plane, o * Pd + F - offset) or
 * ENTRIES_DW (per output channel; idx2 = o * Pd + F, support = the index in `a`).
 */
function entries(pool: WasmPool, aAt: number, length: number, g: Plan, kind: number): Entries & { idx2: number; support: number } {
  const buckets = kind === ENTRIES_DX ? g.cin * g.s2 : g.cout;
  const cap = Math.max(1, length) * 4;
  const start = pool.alloc((buckets + 1) * 4, true);
  const idx = pool.alloc(cap);
  const val = kind === ENTRIES_DW ? 0 : pool.alloc(cap);
  const idx2 = kind === ENTRIES_DW ? pool.alloc(cap) : 0;
  const support = kind === ENTRIES_DW ? pool.alloc(cap) : 0;
  const count = pool.call('sp_entries', [aAt, g.k, g.cin, g.cout, g.s, g.wc, g.px, g.pd, g.f, kind, start, idx, val, idx2, support]);
  return { start, idx, val, idx2, support, count };
}

/** Pads and phase-splits x (already in the memory at `xAt`) into fresh planes; returns their offset. */
function padInput(pool: WasmPool, xAt: number, g: Plan): number {
  const xp = allocPlanes(pool, g, g.cin * g.s2, g.px);
  pool.run('sp_pad', [xAt, xp, g.n, g.cin, g.h, g.w, g.p, g.s, g.k, g.hq, g.wq, g.px, g.b], g.chunks);
  return xp;
}

/** Per-channel means of the two float64 partials per image and channel at `part` (summed in image order). */
function channelMeans(pool: WasmPool, part: number, n: number, cout: number, pixels: number): [Float64Array, Float64Array] {
  const f64 = pool.f64();
  const m1 = new Float64Array(cout);
  const m2 = new Float64Array(cout);
  for (let m = 0; m < n; m++) {
    const at = part / 8 + m * cout * 2;
    for (let o = 0; o < cout; o++) {
      m1[o]! += f64[at + 2 * o]!;
      m2[o]! += f64[at + 2 * o + 1]!;
    }
  }
  for (let o = 0; o < cout; o++) {
    m1[o] = m1[o]! / (n * pixels);
    m2[o] = m2[o]! / (n * pixels);
  }
  return [m1, m2];
}

/** Makes the Float32Array an output of `length` values is copied into (default: a new one). */
export type OutputArrays = (length: number) => Float32Array;

const newArray: OutputArrays = (length) => new Float32Array(length);

/** Copies `length` floats at byte offset `at` of the memory into an array from `arrays`. */
function copyOut(f32: Float32Array, at: number, length: number, arrays: OutputArrays): Float32Array {
  const out = arrays(length);
  out.set(f32.subarray(at / 4, at / 4 + length));
  return out;
}

const FORWARD = 'sparseConvBnForward';
const BACKWARD = 'sparseConvBnBackward';

/** Forward of the unit (the semantics of conv-bn.ts's SupermaskConvBn), computed on `pool`. */
export function sparseConvBnForward(pool: WasmPool, input: SparseConvBnForwardInput, arrays: OutputArrays = newArray): SparseConvBnForwardOutput {
  const a = input.attrs;
  const g = planOf(FORWARD, input.xShape, input.filterShape, a);
  const { n, cin, cout, oh, ow } = g;
  checkLength(FORWARD, 'x', input.x, n * cin * g.h * g.w);
  checkLength(FORWARD, 'filter', input.filter, g.k * g.k * cin * cout);
  const outLen = n * cout * oh * ow;
  if (input.skip !== undefined) checkLength(FORWARD, 'skip', input.skip, outLen);
  if (a.mode === 'running') {
    checkLength(FORWARD, 'mean', input.mean, cout);
    checkLength(FORWARD, 'variance', input.variance, cout);
  }
  pool.reset();
  const xAt = put(pool, input.x);
  const xp = padInput(pool, xAt, g);
  const e = entries(pool, put(pool, input.filter), input.filter.length, g, ENTRIES_FORWARD);
  const out = allocPlanes(pool, g, cout, g.po);
  pool.run('sp_conv', [xp, out, cin * g.s2, g.px, cout, g.po, 0, oh * g.wc, e.start, e.idx, e.val], g.chunks);
  let mean: Float32Array;
  let variance: Float32Array;
  if (a.mode === 'batch') {
    const part = pool.alloc(n * cout * 16);
    pool.run('sp_bn_stats', [out, part, cout, g.po, g.b, oh, ow, g.wq], n);
    const [m1, m2] = channelMeans(pool, part, n, cout, oh * ow);
    mean = new Float32Array(cout);
    variance = new Float32Array(cout);
    for (let o = 0; o < cout; o++) {
      mean[o] = m1[o]!;
      variance[o] = Math.max(0, m2[o]! - m1[o]! * m1[o]!);
    }
  } else {
    mean = Float32Array.from(input.mean!);
    variance = Float32Array.from(input.variance!);
  }
  const invstd = new Float32Array(cout);
  // As the ONNX Runtime unit: float32 var + eps, float32 sqrt, float32 reciprocal.
  const eps = Math.fround(a.epsilon);
  for (let o = 0; o < cout; o++) invstd[o] = 1 / Math.fround(Math.sqrt(Math.fround(variance[o]! + eps)));
  const meanAt = put(pool, mean);
  const invAt = put(pool, invstd);
  const skipAt = input.skip ? put(pool, input.skip) : 0;
  const yAt = pool.alloc(outLen * 4);
  const xhatAt = pool.alloc(outLen * 4);
  pool.run('sp_bn_apply', [out, skipAt, yAt, xhatAt, meanAt, invAt, cout, g.po, g.b, oh, ow, g.wq, a.relu ? 1 : 0], n);
  const f32 = pool.f32();
  return {
    y: copyOut(f32, yAt, outLen, arrays),
    xhat: copyOut(f32, xhatAt, outLen, arrays),
    invstd,
    mean,
    variance,
    outShape: [n, cout, oh, ow],
  };
}

/** Backward of the unit (the semantics of conv-bn.ts's SupermaskConvBnGrad), computed on `pool`. */
export function sparseConvBnBackward(pool: WasmPool, input: SparseConvBnBackwardInput, arrays: OutputArrays = newArray): SparseConvBnBackwardOutput {
  const a = input.attrs;
  const g = planOf(BACKWARD, input.xShape, input.filterShape, a);
  const { n, cin, cout, oh, ow, h, w } = g;
  const outLen = n * cout * oh * ow;
  const filterLen = g.k * g.k * cin * cout;
  checkLength(BACKWARD, 'x', input.x, n * cin * h * w);
  checkLength(BACKWARD, 'filter', input.filter, filterLen);
  checkLength(BACKWARD, 'dy', input.dy, outLen);
  checkLength(BACKWARD, 'y', input.y, outLen);
  checkLength(BACKWARD, 'xhat', input.xhat, outLen);
  checkLength(BACKWARD, 'invstd', input.invstd, cout);
  if (input.gradMask !== undefined) checkLength(BACKWARD, 'gradMask', input.gradMask, filterLen);
  const batch = a.mode === 'batch';
  pool.reset();
  const dyAt = put(pool, input.dy);
  const yAt = a.relu ? put(pool, input.y) : 0;
  const xhatAt = batch ? put(pool, input.xhat) : 0;
  const invAt = put(pool, input.invstd);
  let mgAt = 0;
  let mgxAt = 0;
  if (batch) {
    const part = pool.alloc(n * cout * 16);
    pool.run('sp_bn_back_reduce', [dyAt, yAt, xhatAt, part, cout, oh * ow, a.relu ? 1 : 0], n);
    const [mg, mgx] = channelMeans(pool, part, n, cout, oh * ow);
    mgAt = put(pool, Float32Array.from(mg));
    mgxAt = put(pool, Float32Array.from(mgx));
  }
  const dcp = allocPlanes(pool, g, cout, g.pd);
  const dcd = input.gradMask ? 0 : pool.alloc(outLen * 4);
  const dskip = input.skip ? pool.alloc(outLen * 4) : 0;
  pool.run('sp_bn_back_dc', [dyAt, yAt, xhatAt, invAt, mgAt, mgxAt, dcp, dcd, dskip, n, cout, oh, ow, g.wq, g.f, g.pd, g.b, a.relu ? 1 : 0, batch ? 1 : 0], g.chunks);
  // dx: correlation from dc' to the phase planes of the padded input's gradient, then crop.
  const e = entries(pool, put(pool, input.filter), input.filter.length, g, ENTRIES_DX);
  const planes = cin * g.s2;
  const dxp = allocPlanes(pool, g, planes, g.pdx);
  // Only the phase rows the crop reads: (h + p) / s for h in [0, H).
  const rows0 = Math.floor(g.p / g.s);
  const rows1 = Math.floor((h - 1 + g.p) / g.s) + 1;
  pool.run('sp_conv', [dcp, dxp, cout, g.pd, planes, g.pdx, rows0 * g.wc, rows1 * g.wc, e.start, e.idx, e.val], g.chunks);
  const dxLen = n * cin * h * w;
  const dxAt = pool.alloc(dxLen * 4);
  pool.run('sp_dx_crop', [dxp, dxAt, cin, h, w, g.p, g.s, g.wq, g.pdx, g.b], n);
  let dfilter: Float32Array | undefined;
  if (input.gradMask) dfilter = filterGradAtSupport(pool, input.x, input.gradMask, g, dcp);
  const f32 = pool.f32();
  const result: SparseConvBnBackwardOutput = { dx: copyOut(f32, dxAt, dxLen, arrays) };
  if (dskip) result.dskip = copyOut(f32, dskip, outLen, arrays);
  if (dfilter) result.dfilter = dfilter;
  if (dcd) result.dc = copyOut(f32, dcd, outLen, arrays);
  return result;
}

/** dfilter where gradMask != 0: one dot product per support entry and chunk of images, partials summed in chunk order. */
function filterGradAtSupport(pool: WasmPool, x: Float32Array, gradMask: Float32Array, g: Plan, dcp: number): Float32Array {
  const xAt = put(pool, x);
  const xp = padInput(pool, xAt, g);
  // Entries bucketed by output channel (sp_dw shares dc' loads over runs of one channel).
  const e = entries(pool, put(pool, gradMask), gradMask.length, g, ENTRIES_DW);
  const nent = e.count;
  const dfilter = new Float32Array(gradMask.length);
  if (nent === 0) return dfilter;
  const blocks = g.chunks;
  const part = pool.alloc(blocks * nent * 8);
  pool.run('sp_dw', [xp, dcp, g.cin * g.s2, g.px, g.cout, g.pd, up4(g.oh * g.wc), nent, e.idx2, e.idx, part], blocks);
  // Chunk partials summed in chunk order.
  const f64 = pool.f64();
  const sum = new Float64Array(nent);
  for (let b = 0; b < blocks; b++) {
    const at = part / 8 + b * nent;
    for (let j = 0; j < nent; j++) sum[j]! += f64[at + j]!;
  }
  const support = pool.i32().subarray(e.support / 4, e.support / 4 + nent);
  for (let j = 0; j < nent; j++) dfilter[support[j]!] = sum[j]!;
  return dfilter;
}
