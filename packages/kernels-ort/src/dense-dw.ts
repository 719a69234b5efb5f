import { GraphBuilder } from './onnx.js';
import type { Feed, OrtRuntime } from './runtime.js';
import type { WasmPool } from './wasm-pool.js';

/** A convolution's shape: NCHW input [n, cin, h, w], k x k filter [k, k, cin, cout], output oh x ow. */
export interface ConvShape {
  n: number;
  cin: number;
  h: number;
  w: number;
  k: number;
  cout: number;
  oh: number;
  ow: number;
}

/** A convolution's shape with its stride and symmetric padding. */
export interface FilterGradGeometry extends ConvShape {
  stride: number;
  pad: number;
}

/**
 * The dense gradient of a convolution's filter, dW[kh, kw, i, o] = sum over images and output
 * positions of dc[n, o, r, q] * xpad[n, i, s r + kh, s q + kw], as one ONNX Runtime Gemm per filter
 * tap over zero-copy windows of one buffer.
 *
 * The WebAssembly kernels (wasm/dense-dw.c) lay the padded input out as "tap rows": per phase of
 * the stride (s * s planes of Hq x Wq) and input channel, one row of S floats holding every image
 * (then zeros), and dc likewise per output channel with zeros where a row or column is past the
 * output. Tap (kh, kw) reads phase (kh % s, kw % s) at flat offset (kh / s) * Wq + kw / s: its
 * im2col matrix [cin, S] is the window of the buffer that starts at that phase's rows plus the
 * offset. The window of a row runs `offset` floats into the next row, where dc is zero (the last
 * image's padding rows, the garbage columns and S's zero tail), so no value is wrong. ONNX Runtime
 * takes each window as an input without a copy and computes dW_tap = window * D^T (Gemm, transB),
 * [cin, cout], the taps concatenated in tfjs's [k, k, cin, cout] order: MLAS's GEMM on these long
 * and thin operands, and nothing else (no transposes, slices or pads in the graph).
 *
 * `x` [n, cin, h, w] and `dc` [n, cout, oh, ow] are plain NCHW arrays; the JS buffers ONNX Runtime
 * reads (it does not take the pool's shared memory) come from the runtime's recycler and go back
 * to it after the run.
 */
export function denseFilterGradGemm(
  runtime: OrtRuntime,
  pool: WasmPool,
  x: Float32Array,
  dc: Float32Array,
  g: FilterGradGeometry,
): Float32Array {
  const arrays = runtime.outputArrays;
  const s = g.stride;
  const hq = Math.ceil((g.h + 2 * g.pad) / s);
  const wq = Math.ceil((g.w + 2 * g.pad) / s);
  const kq = Math.floor((g.k - 1) / s);
  const maxOffset = kq * wq + kq;
  // Every image, then at least maxOffset zeros (what the last row's window reads past its row).
  const S = g.n * hq * wq + Math.max(4, Math.ceil(maxOffset / 4) * 4);
  const phases = s * s;
  const xLength = phases * g.cin * S + maxOffset;
  pool.reset();
  const xAt = pool.alloc(x.byteLength);
  pool.f32().set(x, xAt / 4);
  const dcAt = pool.alloc(dc.byteLength);
  pool.f32().set(dc, dcAt / 4);
  const rowsAt = pool.alloc(xLength * 4);
  const dAt = pool.alloc(g.cout * S * 4);
  pool.run('dw_layout_x', [xAt, rowsAt, g.n, g.cin, g.h, g.w, g.pad, s, g.k, hq, wq, S], g.n);
  pool.run('dw_layout_dc', [dcAt, dAt, g.n, g.cout, g.oh, g.ow, hq, wq, S], g.n);
  const f32 = pool.f32();
  const rows = arrays(xLength);
  rows.set(f32.subarray(rowsAt / 4, rowsAt / 4 + xLength));
  // Past the phases dw_layout_x writes: what the last window reads beyond its rows (times zeros in D).
  rows.fill(0, phases * g.cin * S);
  const d = arrays(g.cout * S);
  d.set(f32.subarray(dAt / 4, dAt / 4 + g.cout * S));
  const feeds: Feed[] = [];
  for (let kh = 0; kh < g.k; kh++) {
    for (let kw = 0; kw < g.k; kw++) {
      const start = ((kh % s) * s + (kw % s)) * g.cin * S + Math.floor(kh / s) * wq + Math.floor(kw / s);
      feeds.push({ data: rows.subarray(start, start + g.cin * S), dims: [g.cin, S] });
    }
  }
  feeds.push({ data: d, dims: [g.cout, S] });
  const taps = g.k * g.k;
  const build = (): Uint8Array => {
    const gb = new GraphBuilder();
    const dIn = gb.input(`in${taps}`, [g.cout, 'S']);
    const products: string[] = [];
    for (let t = 0; t < taps; t++) products.push(gb.node('Gemm', [gb.input(`in${t}`, [g.cin, 'S']), dIn], { transB: 1 }));
    const all = taps === 1 ? products[0]! : gb.node('Concat', products, { axis: 0 });
    gb.output(gb.node('Reshape', [all, gb.constantInt64([g.k, g.k, g.cin, g.cout])], {}, 'dfilter'), 'dfilter', [g.k, g.k, g.cin, g.cout]);
    return gb.encode();
  };
  const flops = 2 * taps * g.cin * g.cout * S;
  const [dfilter] = runtime.runOutputs(`FilterGradGemm|${g.k}|${g.cin}|${g.cout}`, build, feeds, ['dfilter'], flops, undefined, [[g.k, g.k, g.cin, g.cout]]);
  runtime.recycler.release(rows);
  runtime.recycler.release(d);
  return dfilter!;
}
