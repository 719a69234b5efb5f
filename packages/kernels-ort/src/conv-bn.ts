import { GraphBuilder } from './onnx.js';
import { nchwcBlockFor, nchwcConv } from './nchwc.js';
import type { CpuBackendLike, KernelContext } from './kernels.js';
import type { WasmPool } from './wasm-pool.js';
import type { Feed, OrtRuntime } from './runtime.js';
import { filterDensity, sparseConvBnBackward, sparseConvBnForward } from './sparse-conv.js';
import { denseFilterGradGemm, type ConvShape } from './dense-dw.js';
import type * as tf from '@tensorflow/tfjs-core';

/**
 * Kernel names of the fused convolution + non-affine batch norm (+ residual) (+ ReLU) unit of a
 * convolutional backbone, the same strings as @supermask/core's CONV_BN_KERNEL and
 * CONV_BN_GRAD_KERNEL (core runs them when the active backend registers them).
 */
export const CONV_BN_KERNEL = 'SupermaskConvBn';
export const CONV_BN_GRAD_KERNEL = 'SupermaskConvBnGrad';

/** How the unit normalises: the batch's own statistics (training) or given running ones. */
export type ConvBnMode = 'batch' | 'running';

interface ConvBnAttrs {
  stride: number;
  pad: number;
  relu: boolean;
  mode: ConvBnMode;
  epsilon: number;
}

interface KernelArgs {
  inputs: Record<string, tf.TensorInfo | undefined>;
  backend: CpuBackendLike;
  attrs?: Record<string, unknown>;
}

const FILTER_TO_OIHW = [3, 2, 0, 1];
const NCHW_TO_NHWC = [0, 2, 3, 1];
/** Batch-norm axes of NCHW: every axis but the channels. */
const BN_AXES = [0, 2, 3];

function attrsOf(args: KernelArgs, kernel: string): ConvBnAttrs {
  const a = args.attrs ?? {};
  const stride = a.stride as number;
  const pad = a.pad as number;
  const mode = a.mode as ConvBnMode;
  const epsilon = a.epsilon as number;
  if (!Number.isInteger(stride) || stride < 1 || !Number.isInteger(pad) || pad < 0 || (mode !== 'batch' && mode !== 'running') || !(epsilon > 0)) {
    throw new Error(`${kernel}: expected attrs stride (integer >= 1), pad (integer >= 0), mode 'batch' or 'running', epsilon > 0`);
  }
  return { stride, pad, relu: Boolean(a.relu), mode, epsilon };
}

function values(backend: CpuBackendLike, t: tf.TensorInfo | undefined, name: string, kernel: string, rank: number): Float32Array {
  const v = t ? backend.data.get(t.dataId).values : undefined;
  const n = t ? t.shape.reduce((a, b) => a * b, 1) : 0;
  if (!t || t.dtype !== 'float32' || t.shape.length !== rank || !ArrayBuffer.isView(v) || (v as Float32Array).length !== n || n === 0) {
    throw new Error(`${kernel}: input ${name} must be a non-empty float32 tensor of rank ${rank}`);
  }
  // tfjs keeps a bool tensor's bytes when casting it to float32 (a 0/1 mask made by a comparison).
  return v instanceof Float32Array ? v : Float32Array.from(v as Uint8Array);
}

/** Output size of a convolution with symmetric padding (PyTorch's formula). */
function convOut(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

interface Geometry extends ConvShape {
  flops: number;
}

function geometry(x: tf.TensorInfo, filter: tf.TensorInfo, a: ConvBnAttrs, kernel: string): Geometry {
  const [n, cin, h, w] = x.shape as [number, number, number, number];
  const [k, k2, fin, cout] = filter.shape as [number, number, number, number];
  if (k !== k2 || fin !== cin) throw new Error(`${kernel}: filter [${filter.shape}] does not fit NCHW input [${x.shape}] (expected [k, k, ${cin}, out])`);
  const oh = convOut(h, k, a.stride, a.pad);
  const ow = convOut(w, k, a.stride, a.pad);
  if (oh < 1 || ow < 1) throw new Error(`${kernel}: a ${k}x${k} filter with padding ${a.pad} does not fit a ${h}x${w} input`);
  return { n, cin, h, w, k, cout, oh, ow, flops: 2 * n * oh * ow * cout * k * k * cin };
}

function key(kind: string, g: Geometry, a: ConvBnAttrs, skip: boolean, block: number | undefined): string {
  return `${kind}|${g.cin}x${g.h}x${g.w}|${g.k}x${g.cout}|s${a.stride}p${a.pad}|${a.relu}|${a.mode}|${a.epsilon}|${skip}|b${block ?? 0}`;
}

/**
 * Forward of the unit, NCHW: c = Conv(x, W) (W given in tfjs's filter layout [k, k, in, out]),
 * xhat = (c - mean) / sqrt(var + eps) with the batch's mean and biased variance over N, H, W
 * (mode batch) or the given running ones (mode running), h = xhat (+ skip), y = relu(h) or h.
 * Inputs: x, filter, then skip when given, then mean and variance (mode running). Outputs: y,
 * xhat, invstd = 1 / sqrt(var + eps), and the statistics used (mean, variance), each [C].
 */
export function convBn(args: KernelArgs, ctx: KernelContext): tf.TensorInfo[] {
  const { backend } = args;
  const a = attrsOf(args, CONV_BN_KERNEL);
  const { x, filter, skip, mean, variance } = args.inputs;
  const feeds: Feed[] = [
    { data: values(backend, x, 'x', CONV_BN_KERNEL, 4), dims: x!.shape },
    { data: values(backend, filter, 'filter', CONV_BN_KERNEL, 4), dims: filter!.shape },
  ];
  const g = geometry(x!, filter!, a, CONV_BN_KERNEL);
  const outShape = [g.n, g.cout, g.oh, g.ow];
  if (skip) {
    feeds.push({ data: values(backend, skip, 'skip', CONV_BN_KERNEL, 4), dims: skip.shape });
    if (skip.shape.join() !== outShape.join()) throw new Error(`${CONV_BN_KERNEL}: skip [${skip.shape}] must have the output's shape [${outShape}]`);
  }
  if (a.mode === 'running') {
    for (const [name, t] of [['mean', mean], ['variance', variance]] as const) {
      if (!t || t.shape.reduce((p, q) => p * q, 1) !== g.cout) throw new Error(`${CONV_BN_KERNEL}: mode running needs ${name} of ${g.cout} values`);
      feeds.push({ data: values(backend, t, name, CONV_BN_KERNEL, t.shape.length), dims: [1, g.cout, 1, 1] });
    }
  }
  const runtime = ctx.runtime(backend);
  // The sparse unit (WebAssembly kernels over the filter's nonzeros) for a sparse enough W * M.
  const filterValues = feeds[1]!.data;
  const pool = runtime.sparseUnits(() => filterDensity(filterValues));
  if (pool) {
    const r = sparseConvBnForward(pool, {
      x: feeds[0]!.data,
      xShape: x!.shape as [number, number, number, number],
      filter: filterValues,
      filterShape: filter!.shape as [number, number, number, number],
      ...(skip ? { skip: feeds[2]!.data } : {}),
      ...(a.mode === 'running' ? { mean: feeds[feeds.length - 2]!.data, variance: feeds[feeds.length - 1]!.data } : {}),
      attrs: a,
    }, runtime.outputArrays);
    runtime.noteSparseRun();
    return [r.y, r.xhat, r.invstd, r.mean, r.variance].map((data, i) => backend.makeTensorInfo(i < 2 ? outShape : [g.cout], 'float32', data));
  }
  // Blocked (NCHWc) convolution where the channel counts fill whole blocks (see nchwc.ts).
  const block = nchwcBlockFor(runtime, g.cin, g.cout);
  const build = (): Uint8Array => {
    const gb = new GraphBuilder();
    const xin = gb.input('in0', ['N', g.cin, g.h, g.w]);
    const filterIn = gb.input('in1', [g.k, g.k, g.cin, g.cout]);
    const p = a.pad;
    const c = block
      ? nchwcConv(gb, xin, filterIn, { block, k: g.k, cin: g.cin, cout: g.cout, stride: a.stride, pad: p })
      : gb.node('Conv', [xin, gb.node('Transpose', [filterIn], { perm: FILTER_TO_OIHW })], { kernel_shape: [g.k, g.k], strides: [a.stride, a.stride], pads: [p, p, p, p], dilations: [1, 1], group: 1 });
    let next = 2;
    const skipIn = skip ? gb.input(`in${next++}`, ['N', g.cout, g.oh, g.ow]) : undefined;
    let m: string;
    let v: string;
    let d: string;
    if (a.mode === 'batch') {
      m = gb.node('ReduceMean', [c], { axes: BN_AXES, keepdims: 1 });
      d = gb.node('Sub', [c, m]);
      v = gb.node('ReduceMean', [gb.node('Mul', [d, d])], { axes: BN_AXES, keepdims: 1 });
    } else {
      m = gb.input(`in${next++}`, [1, g.cout, 1, 1]);
      v = gb.input(`in${next++}`, [1, g.cout, 1, 1]);
      d = gb.node('Sub', [c, m]);
    }
    const sd = gb.node('Sqrt', [gb.node('Add', [v, gb.constantFloat([a.epsilon], [])])]);
    // Results computed straight into the graph outputs' names: no Identity copies.
    const xhat = gb.node('Div', [d, sd], {}, 'xhat');
    let h = skipIn ? gb.node('Add', [xhat, skipIn], {}, a.relu ? undefined : 'y') : xhat;
    if (a.relu) h = gb.node('Relu', [h], {}, 'y');
    const channels = gb.constantInt64([g.cout]);
    gb.output(h, 'y', ['N', g.cout, g.oh, g.ow]);
    gb.output(xhat, 'xhat', ['N', g.cout, g.oh, g.ow]);
    gb.output(gb.node('Reshape', [gb.node('Reciprocal', [sd]), channels]), 'invstd', [g.cout]);
    gb.output(gb.node('Reshape', [m, channels]), 'mean', [g.cout]);
    gb.output(gb.node('Reshape', [v, channels]), 'variance', [g.cout]);
    return gb.encode();
  };
  const outputs = ['y', 'xhat', 'invstd', 'mean', 'variance'];
  const out = runtime.runOutputs(key('ConvBn', g, a, Boolean(skip), block), build, feeds, outputs, g.flops, g.h * g.w, [outShape, outShape, [g.cout], [g.cout], [g.cout]]);
  return out.map((data, i) => backend.makeTensorInfo(i < 2 ? outShape : [g.cout], 'float32', data));
}

/**
 * Backward of the unit: from dy (the gradient of y) and what the forward saved (x, filter, y,
 * xhat, invstd), the gradients of x, of the filter (tfjs layout) and, with attr skip, of the
 * skip input. g = dy * [y > 0] (ReLU); mode batch: dc = invstd * (g - mean(g) - xhat *
 * mean(g * xhat)) over N, H, W (the batch statistics depend on c); mode running: dc = g * invstd.
 * dx = Conv(dc, W spatially flipped with in and out swapped, pads k - 1 - pad) at stride 1 (measured
 * 3-6% less CPU time than ConvTranspose), ConvTranspose(dc, W) at larger strides; dW per filter
 * tap: the strided slice of the padded input (NHWC) times dc (NHWC), one Gemm per tap. With the
 * optional input gradientMask (0/1, the filter's shape), dfilter is returned multiplied by it.
 */
export function convBnGrad(args: KernelArgs, ctx: KernelContext): tf.TensorInfo[] {
  const { backend } = args;
  const a = attrsOf(args, CONV_BN_GRAD_KERNEL);
  const withSkip = Boolean(args.attrs?.skip);
  const { dy, x, filter, y, xhat, invstd } = args.inputs;
  const g = geometry(x!, filter!, a, CONV_BN_GRAD_KERNEL);
  const outShape = [g.n, g.cout, g.oh, g.ow];
  const feeds: Feed[] = [
    { data: values(backend, dy, 'dy', CONV_BN_GRAD_KERNEL, 4), dims: dy!.shape },
    { data: values(backend, x, 'x', CONV_BN_GRAD_KERNEL, 4), dims: x!.shape },
    { data: values(backend, filter, 'filter', CONV_BN_GRAD_KERNEL, 4), dims: filter!.shape },
    { data: values(backend, y, 'y', CONV_BN_GRAD_KERNEL, 4), dims: y!.shape },
    { data: values(backend, xhat, 'xhat', CONV_BN_GRAD_KERNEL, 4), dims: xhat!.shape },
    { data: values(backend, invstd, 'invstd', CONV_BN_GRAD_KERNEL, 1), dims: [1, g.cout, 1, 1] },
  ];
  for (const [name, t] of [['dy', dy], ['y', y], ['xhat', xhat]] as const) {
    if (t!.shape.join() !== outShape.join()) throw new Error(`${CONV_BN_GRAD_KERNEL}: ${name} [${t!.shape}] must have the output's shape [${outShape}]`);
  }
  const { gradientMask } = args.inputs;
  let gradMask: Float32Array | undefined;
  if (gradientMask) {
    if (gradientMask.shape.join() !== filter!.shape.join()) throw new Error(`${CONV_BN_GRAD_KERNEL}: gradientMask [${gradientMask.shape}] must have the filter's shape [${filter!.shape}]`);
    gradMask = values(backend, gradientMask, 'gradientMask', CONV_BN_GRAD_KERNEL, 4);
  }
  const runtime = ctx.runtime(backend);
  const pool = runtime.sparseUnits(() => filterDensity(feeds[2]!.data));
  if (pool) return sparseGrad(args, runtime, pool, feeds, g, a, withSkip, gradMask);
  // dx at stride 1 is a convolution from cout to cin channels: blocked when they fill whole blocks.
  const block = a.stride === 1 && a.pad <= g.k - 1 ? nchwcBlockFor(runtime, g.cout, g.cin) : undefined;
  const build = (): Uint8Array => {
    const gb = new GraphBuilder();
    const outDims = ['N', g.cout, g.oh, g.ow];
    const dyIn = gb.input('in0', outDims);
    const xin = gb.input('in1', ['N', g.cin, g.h, g.w]);
    const filterIn = gb.input('in2', [g.k, g.k, g.cin, g.cout]);
    const yIn = gb.input('in3', outDims);
    const xhatIn = gb.input('in4', outDims);
    const inv = gb.input('in5', [1, g.cout, 1, 1]);
    // y >= 0 after the ReLU, so Sign(y) is its gradient mask [h > 0].
    const grad = a.relu ? gb.node('Mul', [dyIn, gb.node('Sign', [yIn])], {}, withSkip ? 'dskip' : undefined) : dyIn;
    let dc: string;
    if (a.mode === 'batch') {
      const mg = gb.node('ReduceMean', [grad], { axes: BN_AXES, keepdims: 1 });
      const mgx = gb.node('ReduceMean', [gb.node('Mul', [grad, xhatIn])], { axes: BN_AXES, keepdims: 1 });
      dc = gb.node('Mul', [gb.node('Sub', [gb.node('Sub', [grad, mg]), gb.node('Mul', [xhatIn, mgx])]), inv]);
    } else {
      dc = gb.node('Mul', [grad, inv]);
    }
    const p = a.pad;
    const s = a.stride;
    let dx: string;
    if (s === 1 && p <= g.k - 1) {
      // Stride 1: dx = Conv(dc, W flipped spatially with in and out swapped), pads k - 1 - p.
      const q = g.k - 1 - p;
      const flip = (w: string, axes: number[]): string =>
        g.k === 1 ? w : gb.node('Slice', [w, gb.constantInt64([-1, -1]), gb.constantInt64([-(g.k + 1), -(g.k + 1)]), gb.constantInt64(axes), gb.constantInt64([-1, -1])]);
      if (block) {
        dx = nchwcConv(gb, dc, flip(filterIn, [0, 1]), { block, k: g.k, cin: g.cout, cout: g.cin, stride: 1, pad: q }, true, 'dx');
      } else {
        const flipped = flip(gb.node('Transpose', [filterIn], { perm: [2, 3, 0, 1] }), [2, 3]);
        dx = gb.node('Conv', [dc, flipped], { kernel_shape: [g.k, g.k], strides: [1, 1], pads: [q, q, q, q], dilations: [1, 1], group: 1 }, 'dx');
      }
    } else {
      const w = gb.node('Transpose', [filterIn], { perm: FILTER_TO_OIHW });
      const outputPadding = [g.h + 2 * p - ((g.oh - 1) * s + g.k), g.w + 2 * p - ((g.ow - 1) * s + g.k)];
      dx = gb.node('ConvTranspose', [dc, w], {
        kernel_shape: [g.k, g.k],
        strides: [s, s],
        pads: [p, p, p, p],
        dilations: [1, 1],
        output_padding: outputPadding,
        group: 1,
      }, 'dx');
    }
    const dw = filterGradByTaps(gb, g, a, xin, dc);
    gb.output(dx, 'dx', ['N', g.cin, g.h, g.w]);
    gb.output(dw, 'dfilter', [g.k, g.k, g.cin, g.cout]);
    if (withSkip) gb.output(grad, 'dskip', outDims);
    return gb.encode();
  };
  const outputs = ['dx', 'dfilter', ...(withSkip ? ['dskip'] : [])];
  const shapes = [x!.shape, filter!.shape, outShape];
  const out = runtime.runOutputs(key('ConvBnGrad', g, a, withSkip, block), build, feeds, outputs, 2 * g.flops, g.h * g.w, shapes.slice(0, outputs.length));
  // With a gradient mask, dfilter is returned multiplied by it (the kernel's contract).
  if (gradMask) {
    const dfilter = out[1]!;
    for (let i = 0; i < dfilter.length; i++) dfilter[i] = dfilter[i]! * gradMask[i]!;
  }
  return out.map((data, i) => backend.makeTensorInfo(shapes[i]!, 'float32', data));
}

/**
 * Input pixels per image from which the mask phase's dense filter gradient runs as tap-row Gemms
 * (`denseFilterGradGemm`): measured faster from ResNet-18's 16x16 maps up, slower on 8x8 and 4x4.
 */
const TAP_ROW_GEMM_MIN_PIXELS = 256;

/**
 * The backward on the sparse unit: dx (and dskip) by the WebAssembly kernels; the filter's
 * gradient there too at the gradient mask's positions when the caller gave one (a weight phase),
 * else densely by ONNX Runtime from x and the conv output's gradient dc.
 */
function sparseGrad(args: KernelArgs, runtime: OrtRuntime, pool: WasmPool, feeds: Feed[], g: Geometry, a: ConvBnAttrs, withSkip: boolean, gradMask: Float32Array | undefined): tf.TensorInfo[] {
  const { backend } = args;
  const { x, filter } = args.inputs;
  const xShape = x!.shape as [number, number, number, number];
  const filterShape = filter!.shape as [number, number, number, number];
  const r = sparseConvBnBackward(pool, {
    dy: feeds[0]!.data,
    x: feeds[1]!.data,
    xShape,
    filter: feeds[2]!.data,
    filterShape,
    y: feeds[3]!.data,
    xhat: feeds[4]!.data,
    invstd: feeds[5]!.data,
    ...(gradMask ? { gradMask } : {}),
    skip: withSkip,
    attrs: a,
  }, runtime.outputArrays);
  runtime.noteSparseRun();
  // The dense filter gradient (mask phase): per-tap Gemms over the tap rows of the padded input for
  // a k x k filter on a large map (measured 1.5-2.2x faster there), else the per-tap graph of the
  // dense unit (faster on ResNet-18's 8x8 and 4x4 maps, one thread, and for 1x1 filters).
  const xValues = feeds[1]!.data;
  const dfilter =
    r.dfilter ??
    (g.k > 1 && g.h * g.w >= TAP_ROW_GEMM_MIN_PIXELS
      ? denseFilterGradGemm(runtime, pool, xValues, r.dc!, { ...g, stride: a.stride, pad: a.pad })
      : denseFilterGrad(runtime, xValues, r.dc!, g, a));
  if (r.dc) runtime.recycler.release(r.dc);
  const out = [backend.makeTensorInfo(xShape, 'float32', r.dx), backend.makeTensorInfo(filterShape, 'float32', dfilter)];
  if (withSkip) out.push(backend.makeTensorInfo([g.n, g.cout, g.oh, g.ow], 'float32', r.dskip!));
  return out;
}

/**
 * The dense gradient of a unit's filter (tfjs layout [k, k, in, out]) from the unit's input x and
 * dc (the gradient of the convolution's output, NCHW), in one ONNX Runtime session: what the
 * sparse unit leaves to ONNX Runtime when every filter position needs its gradient (the mask
 * phase's straight-through estimator).
 */
export function denseFilterGrad(runtime: OrtRuntime, x: Float32Array, dc: Float32Array, g: Geometry, a: ConvBnAttrs): Float32Array {
  const build = (): Uint8Array => {
    const gb = new GraphBuilder();
    const xin = gb.input('in0', ['N', g.cin, g.h, g.w]);
    const dcIn = gb.input('in1', ['N', g.cout, g.oh, g.ow]);
    gb.output(filterGradByTaps(gb, g, a, xin, dcIn), 'dfilter', [g.k, g.k, g.cin, g.cout]);
    return gb.encode();
  };
  const feeds: Feed[] = [
    { data: x, dims: [g.n, g.cin, g.h, g.w] },
    { data: dc, dims: [g.n, g.cout, g.oh, g.ow] },
  ];
  // The graph depends on the geometry, stride and pad only (not on relu, mode or epsilon).
  const sessionKey = `FilterGrad|${g.cin}x${g.h}x${g.w}|${g.k}x${g.cout}|s${a.stride}p${a.pad}`;
  return runtime.runOutputs(sessionKey, build, feeds, ['dfilter'], g.flops, g.h * g.w, [[g.k, g.k, g.cin, g.cout]])[0]!;
}

function filterGradByTaps(gb: GraphBuilder, g: Geometry, a: ConvBnAttrs, xin: string, dc: string): string {
  const p = a.pad;
  const s = a.stride;
  // dW: NHWC copies of the padded input and of dc, then one product per tap.
  let xt = gb.node('Transpose', [xin], { perm: NCHW_TO_NHWC });
  const bottom = Math.max(0, g.k + (g.oh - 1) * s - g.h - p);
  const right = Math.max(0, g.k + (g.ow - 1) * s - g.w - p);
  if (p || bottom || right) xt = gb.node('Pad', [xt, gb.constantInt64([0, p, p, 0, 0, bottom, right, 0])]);
  const dcRows = gb.node('Reshape', [gb.node('Transpose', [dc], { perm: NCHW_TO_NHWC }), gb.constantInt64([-1, g.cout])]);
  const axes = gb.constantInt64([1, 2]);
  const steps = gb.constantInt64([s, s]);
  const toRows = gb.constantInt64([-1, g.cin]);
  const taps: string[] = [];
  for (let r = 0; r < g.k; r++) {
    for (let q = 0; q < g.k; q++) {
      const slice = gb.node('Slice', [xt, gb.constantInt64([r, q]), gb.constantInt64([r + (g.oh - 1) * s + 1, q + (g.ow - 1) * s + 1]), axes, steps]);
      taps.push(gb.node('Gemm', [gb.node('Reshape', [slice, toRows]), dcRows], { transA: 1 }));
    }
  }
  const dw = taps.length === 1 ? taps[0]! : gb.node('Concat', taps, { axis: 0 });
  return gb.node('Reshape', [dw, gb.constantInt64([g.k, g.k, g.cin, g.cout])], {}, 'dfilter');
}

