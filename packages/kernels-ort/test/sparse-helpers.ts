// Helpers of the sparse conv + batch-norm tests: the kernels module, a pool that splits a run into a fixed number
// of ranges on the calling thread, deterministic inputs and a plain float64 reference of the unit.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SUPERMASK_KERNELS_URL, createWasmPool, loadSupermaskKernels, supermaskKernelsUnavailableReason } from '@supermask/kernels-ort';
import type { WasmModule, WasmPool } from '@supermask/kernels-ort';
import type { FilterGradGeometry } from '../src/dense-dw.js';

import { relativeError, uniform } from './uniform.js';

export { uniform };

const SPARSE_KERNEL = 'sp_conv';

interface WasmApi {
  Module: { new (bytes: Uint8Array): WasmModule; exports(module: WasmModule): { name: string }[] };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

function exportsSparse(module: WasmModule): boolean {
  return wasmApi.Module.exports(module).some((e) => e.name === SPARSE_KERNEL);
}

/**
 * The kernels module with the sparse kernels: the committed wasm/supermask-kernels.wasm, or, where it predates
 * wasm/sparse.c, a build of wasm/*.c into a temporary file (needs clang + wasm-ld); else a reason to skip.
 */
export function sparseKernels(): { module?: WasmModule; reason?: string } {
  const committed = loadSupermaskKernels();
  if (committed === undefined) return { reason: supermaskKernelsUnavailableReason() };
  if (exportsSparse(committed)) return { module: committed };
  const script = fileURLToPath(new URL('../scripts/build-wasm.mjs', SUPERMASK_KERNELS_URL));
  if (!existsSync(script)) return { reason: 'the committed kernels module has no sparse kernels and scripts/build-wasm.mjs is missing' };
  const out = join(mkdtempSync(join(tmpdir(), 'supermask-sparse-')), 'kernels.wasm');
  try {
    execFileSync(process.execPath, [script, '--out', out], { stdio: 'pipe' });
  } catch (error) {
    return { reason: `the committed kernels module has no sparse kernels and building it failed (clang + wasm-ld needed): ${String(error).slice(0, 200)}` };
  }
  return { module: new wasmApi.Module(readFileSync(out)) };
}

/** A pool on one thread whose `run` splits [0, items) into `ranges` contiguous ranges run one after the other. */
export function splitPool(base: WasmPool, ranges: number): WasmPool {
  return {
    threads: 1,
    f32: () => base.f32(),
    i32: () => base.i32(),
    f64: () => base.f64(),
    reset: () => base.reset(),
    alloc: (bytes, zero) => base.alloc(bytes, zero),
    run: (name, args, items) => {
      for (let r = 0; r < ranges; r++) {
        const n0 = Math.floor((items * r) / ranges);
        const n1 = Math.floor((items * (r + 1)) / ranges);
        base.call(name, [...args, n0, n1]);
      }
    },
    call: (name, args) => base.call(name, args),
    dispose: () => base.dispose(),
  };
}

export function serialPool(module: WasmModule): WasmPool {
  return createWasmPool(module, { threads: 1 });
}

/** A filter with about `density` of its values nonzero (uniform in [-1, 1) there). */
export function sparseFilter(n: number, density: number, seed: number): Float32Array {
  const v = uniform(n, seed);
  const keep = uniform(n, seed + 7919, 0, 1);
  for (let i = 0; i < n; i++) if (keep[i]! >= density) v[i] = 0;
  return v;
}

/** 0/1 mask with about `density` ones. */
export function mask01(n: number, density: number, seed: number): Float32Array {
  const u = uniform(n, seed, 0, 1);
  return u.map((v) => (v < density ? 1 : 0));
}

/** max |a - b| / max |b| (0 when both are all zeros): uniform.ts's relativeError, arrays of one length only. */
export function relErr(actual: Float32Array | Float64Array, expected: Float32Array | Float64Array): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  return relativeError(expected, actual);
}

/** A unit to test: the convolution's geometry (output size derived) and the unit's attrs. */
export interface UnitCase extends Omit<FilterGradGeometry, 'oh' | 'ow'> {
  relu: boolean;
  mode: 'batch' | 'running';
  skip: boolean;
  epsilon: number;
}

export const outSize = (size: number, k: number, s: number, p: number): number => Math.floor((size + 2 * p - k) / s) + 1;

/**
 * Every (filter tap, output, input) triple of the convolution `u` in a fixed order: visit(fi, ci,
 * xi) with the filter index ([k, k, in, out]), the output index (NCHW) and the input index (NCHW).
 */
function forEachTap(u: UnitCase, visit: (fi: number, ci: number, xi: number) => void): void {
  const oh = outSize(u.h, u.k, u.stride, u.pad);
  const ow = outSize(u.w, u.k, u.stride, u.pad);
  for (let n = 0; n < u.n; n++)
    for (let o = 0; o < u.cout; o++)
      for (let i = 0; i < u.cin; i++)
        for (let kh = 0; kh < u.k; kh++)
          for (let kw = 0; kw < u.k; kw++) {
            const fi = ((kh * u.k + kw) * u.cin + i) * u.cout + o;
            for (let r = 0; r < oh; r++) {
              const hh = r * u.stride + kh - u.pad;
              if (hh < 0 || hh >= u.h) continue;
              for (let q = 0; q < ow; q++) {
                const ww = q * u.stride + kw - u.pad;
                if (ww < 0 || ww >= u.w) continue;
                visit(fi, ((n * u.cout + o) * oh + r) * ow + q, ((n * u.cin + i) * u.h + hh) * u.w + ww);
              }
            }
          }
}

/** Plain float64 convolution: c [N, out, OH, OW] from x NCHW and filter [k, k, in, out]. */
export function refConv(u: UnitCase, x: ArrayLike<number>, filter: ArrayLike<number>): Float64Array {
  const c = new Float64Array(u.n * u.cout * outSize(u.h, u.k, u.stride, u.pad) * outSize(u.w, u.k, u.stride, u.pad));
  forEachTap(u, (fi, ci, xi) => {
    c[ci]! += filter[fi]! * x[xi]!;
  });
  return c;
}

export interface RefForward {
  y: Float64Array;
  xhat: Float64Array;
  invstd: Float64Array;
  mean: Float64Array;
  variance: Float64Array;
}

/** The unit's forward in float64. */
export function refForward(u: UnitCase, x: ArrayLike<number>, filter: ArrayLike<number>, skip?: ArrayLike<number>, running?: { mean: ArrayLike<number>; variance: ArrayLike<number> }): RefForward {
  const c = refConv(u, x, filter);
  const hw = c.length / (u.n * u.cout);
  const mean = new Float64Array(u.cout);
  const variance = new Float64Array(u.cout);
  for (let o = 0; o < u.cout; o++) {
    if (running) {
      mean[o] = running.mean[o]!;
      variance[o] = running.variance[o]!;
      continue;
    }
    let s = 0;
    for (let n = 0; n < u.n; n++) for (let t = 0; t < hw; t++) s += c[(n * u.cout + o) * hw + t]!;
    const m = s / (u.n * hw);
    let v = 0;
    for (let n = 0; n < u.n; n++) for (let t = 0; t < hw; t++) v += (c[(n * u.cout + o) * hw + t]! - m) ** 2;
    mean[o] = m;
    variance[o] = v / (u.n * hw);
  }
  const invstd = variance.map((v) => 1 / Math.sqrt(v + u.epsilon));
  const xhat = new Float64Array(c.length);
  const y = new Float64Array(c.length);
  for (let j = 0; j < c.length; j++) {
    const o = Math.floor(j / hw) % u.cout;
    xhat[j] = (c[j]! - mean[o]!) * invstd[o]!;
    const h = xhat[j]! + (skip ? skip[j]! : 0);
    y[j] = u.relu ? Math.max(0, h) : h;
  }
  return { y, xhat, invstd, mean, variance };
}

export interface RefBackward {
  dx: Float64Array;
  dfilter: Float64Array;
  dskip: Float64Array;
  dc: Float64Array;
}

/** The unit's analytic backward in float64, from the forward's saved y, xhat, invstd. */
export function refBackward(u: UnitCase, dy: ArrayLike<number>, x: ArrayLike<number>, filter: ArrayLike<number>, y: ArrayLike<number>, xhat: ArrayLike<number>, invstd: ArrayLike<number>): RefBackward {
  const oh = outSize(u.h, u.k, u.stride, u.pad);
  const ow = outSize(u.w, u.k, u.stride, u.pad);
  const hw = oh * ow;
  const len = u.n * u.cout * hw;
  const g = new Float64Array(len);
  for (let j = 0; j < len; j++) g[j] = u.relu ? (y[j]! > 0 ? dy[j]! : 0) : dy[j]!;
  const dc = new Float64Array(len);
  for (let o = 0; o < u.cout; o++) {
    let mg = 0;
    let mgx = 0;
    for (let n = 0; n < u.n; n++)
      for (let t = 0; t < hw; t++) {
        const j = (n * u.cout + o) * hw + t;
        mg += g[j]!;
        mgx += g[j]! * xhat[j]!;
      }
    mg /= u.n * hw;
    mgx /= u.n * hw;
    for (let n = 0; n < u.n; n++)
      for (let t = 0; t < hw; t++) {
        const j = (n * u.cout + o) * hw + t;
        dc[j] = u.mode === 'batch' ? invstd[o]! * (g[j]! - mg - xhat[j]! * mgx) : g[j]! * invstd[o]!;
      }
  }
  const dx = new Float64Array(u.n * u.cin * u.h * u.w);
  const dfilter = new Float64Array(u.k * u.k * u.cin * u.cout);
  forEachTap(u, (fi, ci, xi) => {
    dx[xi]! += filter[fi]! * dc[ci]!;
    dfilter[fi]! += dc[ci]! * x[xi]!;
  });
  return { dx, dfilter, dskip: g, dc };
}
