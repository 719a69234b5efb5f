import type { ConvShape } from './dense-dw.js';
import { Buffer } from 'node:buffer';
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

/**
 * What is kept per filter (or gradient mask) array between calls: a copy of its bytes, its density and its entry
 * lists per layout. A unit's forward and backward get the same filter array (and a weight phase the same gradient
 * mask array every step), so the backward does not count the nonzeros or rebuild the lists again.
 *
 * Why a cached entry cannot be stale: it is keyed by the array object (a WeakMap, so it goes with the array) AND
 * used only while the array's bytes still equal the copy taken when it was made (`Buffer.compare`, a native memcmp,
 * far cheaper than rebuilding). tfjs does not mutate a tensor's values in place, but an array object can come back
 * with other contents (the backend's ArrayRecycler hands a released output array out again; a caller may write into
 * a Float32Array it passes); the byte comparison catches that. -0 and 0, or NaNs of other bits, only cause a rebuild.
 */
interface FilterInfo {
  bytes: Uint8Array;
  density?: number;
  lists: Map<string, EntryLists>;
}

/** Entry lists (see sp_entries in wasm/sparse.c) as JS copies, put into the memory per call. */
interface EntryLists {
  count: number;
  start: Int32Array;
  idx: Int32Array;
  val?: Float32Array;
  idx2?: Int32Array;
  support?: Int32Array;
}

const filterInfos = new WeakMap<Float32Array, FilterInfo>();

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function infoOf(a: Float32Array): FilterInfo {
  const bytes = bytesOf(a);
  const cached = filterInfos.get(a);
  if (cached && Buffer.compare(cached.bytes, bytes) === 0) return cached;
  const info: FilterInfo = { bytes: bytes.slice(), lists: new Map() };
  filterInfos.set(a, info);
  return info;
}

/** Fraction of nonzero values of a filter (the caller runs the sparse unit below some density); cached per array (see FilterInfo). */
export function filterDensity(filter: Float32Array): number {
  if (filter.length === 0) return 0;
  const info = infoOf(filter);
  if (info.density === undefined) {
    // Branch-free count (a branch per value mispredicts at density 0.1: twice the time); -0 counts as 0, NaN as nonzero.
    let zeros = 0;
    for (let i = 0; i < filter.length; i++) zeros += (filter[i] === 0) as unknown as number;
    info.density = (filter.length - zeros) / filter.length;
  }
  return info.density;
}

/** A chunk of images spans at least this many floats of output per plane (long sweeps on small maps). */
const CHUNK_FLOATS = 192;

const up4 = (v: number): number => (v + 3) & ~3;

interface Plan extends ConvShape {
  s: number;
  p: number;
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
    throw new Error(`${kernel}: expected attrs stride (integer >= 1), pad (integer >= 0), mode 'batch' or 'running', epsilon > 0; got stride ${s}, pad ${p}, mode ${String(a.mode)}, epsilon ${a.epsilon}`);
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
  if (!(v instanceof Float32Array) || v.length !== length) throw new Error(`${kernel}: ${name} must be a Float32Array of ${length} values, got ${v instanceof Float32Array ? `${v.length} values` : v === undefined ? 'nothing' : (v as object).constructor?.name ?? typeof v}`);
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
 * Entry lists of the nonzeros of `a` in the memory, built by sp_entries (once per array and layout, see FilterInfo):
 * kind ENTRIES_FORWARD (per output channel, source plane * Px + offset), ENTRIES_DX (per input phase plane,
 * o * Pd + F - offset) or ENTRIES_DW (per output channel; idx2 = o * Pd + F, support = the index in `a`).
 * `withDx` (a training forward): the dx lists are built in the same scan (sp_entries_fd) for the backward.
 */
function entries(pool: WasmPool, a: Float32Array, g: Plan, kind: number, withDx = false): Entries & { idx2: number; support?: Int32Array } {
  const info = infoOf(a);
  const keyOf = (k: number): string => `${k},${g.k},${g.cin},${g.cout},${g.s},${g.wc},${g.px},${g.pd},${g.f}`;
  let lists = info.lists.get(keyOf(kind));
  if (!lists) {
    const both = withDx && kind === ENTRIES_FORWARD && !info.lists.has(keyOf(ENTRIES_DX));
    const buckets = kind === ENTRIES_DX ? g.cin * g.s2 : g.cout;
    const cap = Math.max(1, a.length) * 4;
    const aAt = put(pool, a);
    const start = pool.alloc((buckets + 1) * 4, true);
    const idx = pool.alloc(cap);
    const val = kind === ENTRIES_DW ? 0 : pool.alloc(cap);
    const idx2 = kind === ENTRIES_DW || both ? pool.alloc(cap) : 0;
    const support = kind === ENTRIES_DW ? pool.alloc(cap) : 0;
    const start2 = both ? pool.alloc((g.cin * g.s2 + 1) * 4, true) : 0;
    const val2 = both ? pool.alloc(cap) : 0;
    const count = both
      ? pool.call('sp_entries_fd', [aAt, g.k, g.cin, g.cout, g.s, g.wc, g.px, g.pd, g.f, start, idx, val, start2, idx2, val2])
      : pool.call('sp_entries', [aAt, g.k, g.cin, g.cout, g.s, g.wc, g.px, g.pd, g.f, kind, start, idx, val, idx2, support]);
    const i32 = pool.i32();
    const f32 = pool.f32();
    const ints = (at: number, length: number): Int32Array => i32.slice(at / 4, at / 4 + length);
    lists = { count, start: ints(start, buckets + 1), idx: ints(idx, count) };
    if (val) lists.val = f32.slice(val / 4, val / 4 + count);
    if (kind === ENTRIES_DW) {
      lists.idx2 = ints(idx2, count);
      lists.support = ints(support, count);
    }
    info.lists.set(keyOf(kind), lists);
    if (both) info.lists.set(keyOf(ENTRIES_DX), { count, start: ints(start2, g.cin * g.s2 + 1), idx: ints(idx2, count), val: f32.slice(val2 / 4, val2 / 4 + count) });
  }
  const at = (v: Int32Array | Float32Array | undefined): number => (v === undefined ? 0 : put(pool, v));
  return { count: lists.count, start: at(lists.start), idx: at(lists.idx), val: at(lists.val), idx2: at(lists.idx2), ...(lists.support ? { support: lists.support } : {}) };
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
  const batch = a.mode === 'batch';
  pool.reset();
  const xAt = put(pool, input.x);
  // A training forward (batch statistics) also lists the filter for its backward's dx, in the same scan.
  const e = entries(pool, input.filter, g, ENTRIES_FORWARD, batch);
  const xp = allocPlanes(pool, g, cin * g.s2, g.px);
  const out = allocPlanes(pool, g, cout, g.po);
  const part = batch ? pool.alloc(n * cout * 16) : 0;
  // Everything the second run reads is in place before the first: between the runs the workers only wait a moment.
  const skipAt = input.skip ? put(pool, input.skip) : 0;
  const yAt = pool.alloc(outLen * 4);
  const xhatAt = pool.alloc(outLen * 4);
  const meanAt = pool.alloc(cout * 4);
  const invAt = pool.alloc(cout * 4);
  // Per chunk: pad, conv, batch-norm partials (one run).
  pool.run('sp_fwd', [xAt, xp, n, cin, g.h, g.w, g.p, g.s, g.k, g.hq, g.wq, g.px, g.b, out, cout, g.po, oh * g.wc, e.start, e.idx, e.val, part, oh, ow], g.chunks);
  let mean: Float32Array;
  let variance: Float32Array;
  if (batch) {
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
  const f32m = pool.f32();
  f32m.set(mean, meanAt / 4);
  f32m.set(invstd, invAt / 4);
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
  const xhatAt = batch ? put(pool, input.xhat) : 0;
  // The ReLU's gradient mask [y > 0]: without a skip input y = relu(xhat), so y > 0 exactly where xhat > 0 and
  // the kernels read xhat in its place (one copy less).
  const yAt = !a.relu ? 0 : batch && !input.skip ? xhatAt : put(pool, input.y);
  const invAt = put(pool, input.invstd);
  const dcp = allocPlanes(pool, g, cout, g.pd);
  const dcd = input.gradMask ? 0 : pool.alloc(outLen * 4);
  const dskip = input.skip ? pool.alloc(outLen * 4) : 0;
  const e = entries(pool, input.filter, g, ENTRIES_DX);
  const planes = cin * g.s2;
  const dxp = allocPlanes(pool, g, planes, g.pdx);
  // Only the phase rows the crop reads: (h + p) / s for h in [0, H).
  const rows0 = Math.floor(g.p / g.s);
  const rows1 = Math.floor((h - 1 + g.p) / g.s) + 1;
  const dxLen = n * cin * h * w;
  const dxAt = pool.alloc(dxLen * 4);
  // dW at the support (with gradMask): entries bucketed by output channel (sp_dw shares dc' loads over runs of one channel).
  let xAt = 0;
  let xp = 0;
  let dw: (Entries & { idx2: number; support?: Int32Array }) | undefined;
  let dwPart = 0;
  if (input.gradMask) {
    dw = entries(pool, input.gradMask, g, ENTRIES_DW);
    if (dw.count > 0) {
      xAt = put(pool, input.x);
      xp = allocPlanes(pool, g, planes, g.px);
      dwPart = pool.alloc(g.chunks * dw.count * 8);
    }
  }
  // Everything the fused run reads is in place before the reduction's run: between the two the workers only wait a moment.
  const mgAt = batch ? pool.alloc(cout * 4) : 0;
  const mgxAt = batch ? pool.alloc(cout * 4) : 0;
  const part = batch ? pool.alloc(n * cout * 16) : 0;
  if (batch) {
    pool.run('sp_bn_back_reduce', [dyAt, yAt, xhatAt, part, cout, oh * ow, a.relu ? 1 : 0], n);
    const [mg, mgx] = channelMeans(pool, part, n, cout, oh * ow);
    const f32m = pool.f32();
    f32m.set(mg, mgAt / 4);
    f32m.set(mgx, mgxAt / 4);
  }
  // Per chunk: dc (+ dense dc, dskip), the dx correlation and its crop, then (with gradMask) pad x and dW partials (one run).
  pool.run('sp_bwd', [
    dyAt, yAt, xhatAt, invAt, mgAt, mgxAt, dcp, dcd, dskip, n, cout, oh, ow, g.wq, g.f, g.pd, g.b, a.relu ? 1 : 0, batch ? 1 : 0,
    dxp, dxAt, cin, h, w, g.p, g.s, g.pdx, rows0 * g.wc, rows1 * g.wc, e.start, e.idx, e.val,
    xAt, xp, g.k, g.hq, g.px, up4(oh * g.wc), dw?.count ?? 0, dw?.idx2 ?? 0, dw?.idx ?? 0, dwPart,
  ], g.chunks);
  let dfilter: Float32Array | undefined;
  if (input.gradMask) dfilter = dwPart ? filterGradSum(pool, dwPart, dw!.count, dw!.support!, g.chunks, input.gradMask) : new Float32Array(filterLen);
  const f32 = pool.f32();
  const result: SparseConvBnBackwardOutput = { dx: copyOut(f32, dxAt, dxLen, arrays) };
  if (dskip) result.dskip = copyOut(f32, dskip, outLen, arrays);
  if (dfilter) result.dfilter = dfilter;
  if (dcd) result.dc = copyOut(f32, dcd, outLen, arrays);
  return result;
}

/** dfilter from the per-chunk partials of sp_dw at `part` (summed in chunk order) at the support indices, times the mask's value there; 0 elsewhere. */
function filterGradSum(pool: WasmPool, part: number, nent: number, support: Int32Array, chunks: number, gradMask: Float32Array): Float32Array {
  const f64 = pool.f64();
  const sum = new Float64Array(nent);
  for (let b = 0; b < chunks; b++) {
    const at = part / 8 + b * nent;
    for (let j = 0; j < nent; j++) sum[j]! += f64[at + j]!;
  }
  const dfilter = new Float32Array(gradMask.length);
  for (let j = 0; j < nent; j++) dfilter[support[j]!] = sum[j]! * gradMask[support[j]!]!;
  return dfilter;
}
