import * as tf from '@tensorflow/tfjs-core';
import { GraphBuilder, type AttributeValue, type Dim } from './onnx.js';
import type { Feed, OrtRuntime } from './runtime.js';
import { CONV_BN_GRAD_KERNEL, CONV_BN_KERNEL, convBn, convBnGrad } from './conv-bn.js';

/** The parts of tfjs-backend-cpu's MathBackendCPU the kernels use. */
export interface CpuBackendLike extends tf.KernelBackend {
  data: { get(dataId: tf.DataId): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

type Activation = 'linear' | 'relu' | 'relu6' | 'prelu' | 'elu' | 'leakyrelu' | 'sigmoid';

interface KernelArgs {
  inputs: Record<string, tf.TensorInfo | undefined>;
  backend: CpuBackendLike;
  attrs?: Record<string, unknown>;
}

/** What an ORT kernel needs besides its arguments. */
export interface KernelContext {
  runtime(backend: object): OrtRuntime;
}

/** Result of an ORT kernel, or null to let the plain cpu kernel compute it. */
type Attempt = tf.TensorInfo | null;

export interface OrtKernel {
  kernelName: string;
  run(args: KernelArgs, ctx: KernelContext): Attempt;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The float32 values of a tensor on a cpu backend, or null when ORT cannot take it. */
function floatValues(backend: CpuBackendLike, t: tf.TensorInfo | undefined): Float32Array | null {
  if (!t || t.dtype !== 'float32' || size(t.shape) === 0) return null;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array && v.length === size(t.shape) ? v : null;
}

function symbolic(prefix: string, rank: number): Dim[] {
  return Array.from({ length: rank }, (_, i) => `${prefix}${i}`);
}

/** Swaps the last two axes. */
function lastTwoSwapped(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return perm;
}

/* ------------------------------------------------------------------ activation */

const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'relu6', 'prelu', 'elu', 'leakyrelu', 'sigmoid'];

/** Appends tfjs's fused activation (fused_utils.applyActivation) to `y`. */
function activate(g: GraphBuilder, y: string, activation: Activation, alpha: string | undefined, leakyAlpha: number): string {
  switch (activation) {
    case 'linear':
      return y;
    case 'relu':
      return g.node('Relu', [y]);
    case 'relu6':
      return g.node('Clip', [y, g.constantFloat([0], []), g.constantFloat([6], [])]);
    case 'elu':
      return g.node('Elu', [y], { alpha: { float: 1 } });
    case 'sigmoid':
      return g.node('Sigmoid', [y]);
    case 'leakyrelu':
      return g.node('LeakyRelu', [y], { alpha: { float: leakyAlpha } });
    case 'prelu':
      return g.node('PRelu', [y, alpha!]);
  }
}

interface Epilogue {
  activation: Activation;
  bias?: { data: Float32Array; dims: number[] };
  alpha?: { data: Float32Array; dims: number[] };
  leakyAlpha: number;
}

/** Bias and activation of the fused kernels, or null when a part is not a float32 tensor. */
function epilogueOf(backend: CpuBackendLike, args: KernelArgs, biasDims?: (dims: number[]) => number[]): Epilogue | null {
  const activation = ((args.attrs?.activation as string | undefined) ?? 'linear') as Activation;
  if (!ACTIVATIONS.includes(activation)) return null;
  const e: Epilogue = { activation, leakyAlpha: (args.attrs?.leakyreluAlpha as number | undefined) ?? 0.2 };
  const { bias, preluActivationWeights } = args.inputs;
  if (bias) {
    const data = floatValues(backend, bias);
    if (!data) return null;
    e.bias = { data, dims: biasDims ? biasDims(bias.shape) : bias.shape };
  }
  if (activation === 'prelu') {
    const data = floatValues(backend, preluActivationWeights);
    if (!data || !preluActivationWeights) return null;
    e.alpha = { data, dims: biasDims ? biasDims(preluActivationWeights.shape) : preluActivationWeights.shape };
  }
  return e;
}

function epilogueKey(e: Epilogue | undefined): string {
  if (!e) return '';
  return `|${e.bias ? `b${e.bias.dims.join('x')}` : ''}|${e.activation}|${e.activation === 'leakyrelu' ? e.leakyAlpha : ''}|${e.alpha ? e.alpha.dims.join('x') : ''}`;
}

/** The epilogue's inputs, fed after the op's own. */
function epilogueFeeds(e: Epilogue | undefined): Feed[] {
  const feeds: Feed[] = [];
  if (e?.bias) feeds.push(e.bias);
  if (e?.alpha) feeds.push(e.alpha);
  return feeds;
}

/** Declares the epilogue's inputs (numbered from `first`) and applies bias and activation to `y`. */
function applyEpilogue(g: GraphBuilder, y: string, e: Epilogue | undefined, first: number): string {
  if (!e) return y;
  let next = first;
  let out = y;
  if (e.bias) out = g.node('Add', [out, g.input(`in${next++}`, e.bias.dims)]);
  const alpha = e.alpha ? g.input(`in${next++}`, e.alpha.dims) : undefined;
  return activate(g, out, e.activation, alpha, e.leakyAlpha);
}

/* ------------------------------------------------------------------ matmul */

function matMul(args: KernelArgs, ctx: KernelContext, fused: boolean): Attempt {
  const { backend } = args;
  const a = args.inputs.a!;
  const b = args.inputs.b!;
  const transposeA = Boolean(args.attrs?.transposeA);
  const transposeB = Boolean(args.attrs?.transposeB);
  const aValues = floatValues(backend, a);
  const bValues = floatValues(backend, b);
  if (!aValues || !bValues || a.shape.length < 2 || b.shape.length < 2) return null;
  const epilogue = fused ? epilogueOf(backend, args) : undefined;
  if (epilogue === null) return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const outShape = [...outer, m, n];
  const key = `MatMul|${ra}|${rb}|${transposeA}|${transposeB}${epilogueKey(epilogue)}`;
  const feeds: Feed[] = [{ data: aValues, dims: a.shape }, { data: bValues, dims: b.shape }, ...epilogueFeeds(epilogue)];
  const build = (): Uint8Array => {
    const g = new GraphBuilder();
    let x = g.input('in0', symbolic('a', ra));
    let w = g.input('in1', symbolic('b', rb));
    let y: string;
    if (ra === 2 && rb === 2) {
      // Gemm takes the transposes as BLAS flags: no transposed copy.
      y = g.node('Gemm', [x, w], { transA: transposeA ? 1 : 0, transB: transposeB ? 1 : 0 });
    } else {
      if (transposeA) x = g.node('Transpose', [x], { perm: lastTwoSwapped(ra) });
      if (transposeB) w = g.node('Transpose', [w], { perm: lastTwoSwapped(rb) });
      y = g.node('MatMul', [x, w]);
    }
    y = applyEpilogue(g, y, epilogue, 2);
    g.output(y, 'y', symbolic('y', outShape.length));
    return g.encode();
  };
  const inner = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const out = ctx.runtime(backend).run(key, build, feeds, 2 * size(outShape) * inner);
  return backend.makeTensorInfo(outShape, 'float32', out);
}

/* ------------------------------------------------------------------ convolutions */

type ConvInfo = tf.backend_util.Conv2DInfo;

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];
/** tfjs filter [fh, fw, in, out] -> ONNX Conv / ConvTranspose weight [out, in, fh, fw] ([in, out, ...] for ConvTranspose of the gradient). */
const FILTER_TO_OIHW = [3, 2, 0, 1];

function pair(v: unknown): [number, number] {
  if (Array.isArray(v)) return [v[0] as number, v[1] as number];
  return [v as number, v as number];
}

/** Output size ONNX computes for a convolution with explicit pads (floor rounding). */
function onnxConvOut(inSize: number, pads: number, effectiveFilter: number, stride: number): number {
  return Math.floor((inSize + pads - effectiveFilter) / stride) + 1;
}

/** Multiply-adds x 2 of a convolution (the same for its two gradients). */
function convFlops(info: ConvInfo): number {
  return 2 * info.batchSize * info.outHeight * info.outWidth * info.outChannels * info.filterHeight * info.filterWidth * info.inChannels;
}

function padsOf(info: ConvInfo): number[] {
  const p = info.padInfo;
  return [p.top, p.left, p.bottom, p.right];
}

function convInfoOf(
  xShape: number[],
  filterShape: number[],
  attrs: Record<string, unknown> | undefined,
  dilations: unknown,
): { info: ConvInfo; channelsLast: boolean } | null {
  if (xShape.length !== 4 || filterShape.length !== 4) return null;
  const dataFormat = (attrs?.dataFormat as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC';
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs?.strides as [number, number] | number,
    (dilations ?? 1) as [number, number] | number,
    attrs?.pad as 'same' | 'valid' | number | tf.backend_util.ExplicitPadding,
    attrs?.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    format,
  );
  const p = info.padInfo;
  if (
    [p.top, p.bottom, p.left, p.right].some((v) => v < 0) ||
    onnxConvOut(info.inHeight, p.top + p.bottom, info.effectiveFilterHeight, info.strideHeight) !== info.outHeight ||
    onnxConvOut(info.inWidth, p.left + p.right, info.effectiveFilterWidth, info.strideWidth) !== info.outWidth
  ) {
    return null;
  }
  return { info, channelsLast: format === 'channelsLast' };
}

/** Shape with the batch dimension symbolic (one session serves every batch size). */
function batchSymbolic(shape: readonly number[]): Dim[] {
  return ['N', ...shape.slice(1)];
}

/**
 * The ONNX graph of a tfjs convolution-like kernel: `op` (Conv or ConvTranspose, with `attributes`)
 * on in0 (NHWC or NCHW as tfjs holds it, batch symbolic) and in1 (a tfjs filter [fh, fw, in, out],
 * transposed to OIHW); NHWC goes through NCHW and back. `finish` adds nodes after the result
 * (a fused epilogue), `outShape` is the output's tfjs shape.
 */
function convGraph(
  op: 'Conv' | 'ConvTranspose',
  inShape: readonly number[],
  filterShape: readonly number[],
  channelsLast: boolean,
  attributes: Record<string, AttributeValue>,
  outShape: readonly number[],
  finish: (g: GraphBuilder, y: string) => string = (_g, y) => y,
): Uint8Array {
  const g = new GraphBuilder();
  let xin = g.input('in0', batchSymbolic(inShape));
  const w = g.node('Transpose', [g.input('in1', filterShape)], { perm: FILTER_TO_OIHW });
  if (channelsLast) xin = g.node('Transpose', [xin], { perm: NHWC_TO_NCHW });
  let y = g.node(op, [xin, w], { ...attributes, group: 1 });
  if (channelsLast) y = g.node('Transpose', [y], { perm: NCHW_TO_NHWC });
  g.output(finish(g, y), 'y', batchSymbolic(outShape));
  return g.encode();
}

function conv(args: KernelArgs, ctx: KernelContext, fused: boolean): Attempt {
  const { backend } = args;
  const x = args.inputs.x!;
  const filter = args.inputs.filter!;
  const xValues = floatValues(backend, x);
  const fValues = floatValues(backend, filter);
  if (!xValues || !fValues) return null;
  const c = convInfoOf(x.shape, filter.shape, args.attrs, args.attrs?.dilations);
  if (!c) return null;
  const { info, channelsLast } = c;
  // tfjs aligns a 1-D bias (and prelu weights) with the channels of an NCHW result.
  const epilogue = fused
    ? epilogueOf(backend, args, (dims) => (!channelsLast && dims.length === 1 && dims[0] !== 1 ? [dims[0]!, 1, 1] : dims))
    : undefined;
  if (epilogue === null) return null;
  const outShape = info.outShape;
  const strides = [info.strideHeight, info.strideWidth];
  const dilations = [info.dilationHeight, info.dilationWidth];
  const pads = padsOf(info);
  const key = `Conv|${channelsLast}|${x.shape.slice(1).join('x')}|${filter.shape.join('x')}|${strides}|${dilations}|${pads}${epilogueKey(epilogue)}`;
  const feeds: Feed[] = [{ data: xValues, dims: x.shape }, { data: fValues, dims: filter.shape }, ...epilogueFeeds(epilogue)];
  const build = (): Uint8Array =>
    convGraph('Conv', x.shape, filter.shape, channelsLast, { kernel_shape: [info.filterHeight, info.filterWidth], strides, dilations, pads }, outShape, (g, y) =>
      applyEpilogue(g, y, epilogue, 2),
    );
  const out = ctx.runtime(backend).run(key, build, feeds, convFlops(info));
  return backend.makeTensorInfo(outShape, 'float32', out);
}

/** dL/dx of a convolution: ONNX ConvTranspose with the forward pads and an output padding for the exact size. */
function convBackpropInput(args: KernelArgs, ctx: KernelContext): Attempt {
  const { backend } = args;
  const dy = args.inputs.dy!;
  const filter = args.inputs.filter!;
  const dyValues = floatValues(backend, dy);
  const fValues = floatValues(backend, filter);
  const inputShape = args.attrs?.inputShape as number[] | undefined;
  if (!dyValues || !fValues || !inputShape) return null;
  const c = convInfoOf(inputShape, filter.shape, args.attrs, 1);
  if (!c) return null;
  const { info, channelsLast } = c;
  const pads = padsOf(info);
  const strides = [info.strideHeight, info.strideWidth];
  const outputPadding = [
    info.inHeight - ((info.outHeight - 1) * info.strideHeight + info.filterHeight - pads[0]! - pads[2]!),
    info.inWidth - ((info.outWidth - 1) * info.strideWidth + info.filterWidth - pads[1]! - pads[3]!),
  ];
  if (outputPadding[0]! < 0 || outputPadding[0]! >= info.strideHeight || outputPadding[1]! < 0 || outputPadding[1]! >= info.strideWidth) return null;
  const key = `ConvTranspose|${channelsLast}|${dy.shape.slice(1).join('x')}|${filter.shape.join('x')}|${inputShape.slice(1).join('x')}|${strides}|${pads}|${outputPadding}`;
  const build = (): Uint8Array =>
    convGraph(
      'ConvTranspose',
      dy.shape,
      filter.shape,
      channelsLast,
      { kernel_shape: [info.filterHeight, info.filterWidth], strides, dilations: [1, 1], pads, output_padding: outputPadding },
      inputShape,
    );
  const out = ctx.runtime(backend).run(
    key,
    build,
    [
      { data: dyValues, dims: dy.shape },
      { data: fValues, dims: filter.shape },
    ],
    convFlops(info),
  );
  return backend.makeTensorInfo(inputShape, 'float32', out);
}

/**
 * dL/dfilter of a convolution as one matrix product per filter tap: for tap (kh, kw), the strided
 * slice of the padded input that the tap reads, [N*oh*ow, C_in], transposed times the output
 * gradient [N*oh*ow, C_out] gives dW[kh, kw] = [C_in, C_out]; the taps concatenated are the
 * filter's layout [fh, fw, C_in, C_out]. (A convolution with the output gradient as the kernel
 * computes the same but ran 3-6x slower here: skinny im2col matrices.)
 */
function convBackpropFilter(args: KernelArgs, ctx: KernelContext): Attempt {
  const { backend } = args;
  const x = args.inputs.x!;
  const dy = args.inputs.dy!;
  const xValues = floatValues(backend, x);
  const dyValues = floatValues(backend, dy);
  const filterShape = args.attrs?.filterShape as number[] | undefined;
  if (!xValues || !dyValues || !filterShape) return null;
  const c = convInfoOf(x.shape, filterShape, args.attrs, 1);
  if (!c) return null;
  const { info, channelsLast } = c;
  const { top, left } = info.padInfo;
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  // Padding actually read by the forward windows (the floor may have dropped the last rows).
  const bottom = Math.max(0, info.filterHeight + (info.outHeight - 1) * sh - info.inHeight - top);
  const right = Math.max(0, info.filterWidth + (info.outWidth - 1) * sw - info.inWidth - left);
  const key = `ConvFilterGrad|${channelsLast}|${x.shape.slice(1).join('x')}|${dy.shape.slice(1).join('x')}|${filterShape.join('x')}|${sh},${sw}|${top},${left},${bottom},${right}`;
  const build = (): Uint8Array => {
    const g = new GraphBuilder();
    let xin = g.input('in0', batchSymbolic(x.shape));
    let d = g.input('in1', batchSymbolic(dy.shape));
    if (!channelsLast) {
      xin = g.node('Transpose', [xin], { perm: NCHW_TO_NHWC });
      d = g.node('Transpose', [d], { perm: NCHW_TO_NHWC });
    }
    if (top || left || bottom || right) {
      xin = g.node('Pad', [xin, g.constantInt64([0, top, left, 0, 0, bottom, right, 0])]);
    }
    const axes = g.constantInt64([1, 2]);
    const steps = g.constantInt64([sh, sw]);
    const taps: string[] = [];
    for (let kh = 0; kh < info.filterHeight; kh++) {
      for (let kw = 0; kw < info.filterWidth; kw++) {
        const r = kh * info.dilationHeight;
        const q = kw * info.dilationWidth;
        taps.push(
          g.node('Slice', [
            xin,
            g.constantInt64([r, q]),
            g.constantInt64([r + (info.outHeight - 1) * sh + 1, q + (info.outWidth - 1) * sw + 1]),
            axes,
            steps,
          ]),
        );
      }
    }
    const b = g.node('Reshape', [d, g.constantInt64([-1, info.outChannels])]);
    const toRows = g.constantInt64([-1, info.inChannels]);
    // One product per filter tap, [N*oh*ow, C_in]^T · [N*oh*ow, C_out]: no im2col buffer.
    const perTap = taps.map((t) => g.node('Gemm', [g.node('Reshape', [t, toRows]), b], { transA: 1 }));
    const w = perTap.length === 1 ? perTap[0]! : g.node('Concat', perTap, { axis: 0 });
    g.output(g.node('Reshape', [w, g.constantInt64(filterShape)]), 'y', filterShape);
    return g.encode();
  };
  const out = ctx.runtime(backend).run(
    key,
    build,
    [
      { data: xValues, dims: x.shape },
      { data: dyValues, dims: dy.shape },
    ],
    convFlops(info),
  );
  return backend.makeTensorInfo(filterShape, 'float32', out);
}

/* ------------------------------------------------------------------ elementwise */

/**
 * Smallest output (elements) for which an elementwise op goes to ONNX Runtime: a session run costs
 * about 30 µs, tfjs's JS loop about 10-15 ns per element, so small tensors stay in JS.
 */
export const ELEMENTWISE_MIN_SIZE = 2048;

/** A binary op with numpy broadcasting (the same rule as tfjs's). */
function binary(onnxOp: string) {
  return (args: KernelArgs, ctx: KernelContext): Attempt => {
    const { backend } = args;
    const a = args.inputs.a!;
    const b = args.inputs.b!;
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (size(outShape) < ELEMENTWISE_MIN_SIZE) return null;
    const aValues = floatValues(backend, a);
    const bValues = floatValues(backend, b);
    if (!aValues || !bValues) return null;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const key = `${onnxOp}|${ra}|${rb}`;
    const build = (): Uint8Array => {
      const g = new GraphBuilder();
      const y = g.node(onnxOp, [g.input('in0', symbolic('a', ra)), g.input('in1', symbolic('b', rb))]);
      g.output(y, 'y', symbolic('y', outShape.length));
      return g.encode();
    };
    const out = ctx.runtime(backend).run(
      key,
      build,
      [
        { data: aValues, dims: a.shape },
        { data: bValues, dims: b.shape },
      ],
      0,
      outShape,
    );
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
}

function unary(onnxOp: string) {
  return (args: KernelArgs, ctx: KernelContext): Attempt => {
    const { backend } = args;
    const x = args.inputs.x!;
    if (size(x.shape) < ELEMENTWISE_MIN_SIZE) return null;
    const values = floatValues(backend, x);
    if (!values) return null;
    const rank = x.shape.length;
    const build = (): Uint8Array => {
      const g = new GraphBuilder();
      const x0 = g.input('in0', symbolic('x', rank));
      const y =
        onnxOp === 'Step' ? g.node('Sign', [g.node('Relu', [x0])]) : onnxOp === 'Square' ? g.node('Mul', [x0, x0]) : g.node(onnxOp, [x0]);
      g.output(y, 'y', symbolic('x', rank));
      return g.encode();
    };
    const out = ctx.runtime(backend).run(`${onnxOp}|${rank}`, build, [{ data: values, dims: x.shape }], 0, x.shape);
    return backend.makeTensorInfo(x.shape, 'float32', out);
  };
}

/* ------------------------------------------------------------------ reductions */

/**
 * Sum and Mean over axes (batch-norm statistics and their gradients reduce [N, H, W, C] over N, H,
 * W: tfjs's cpu kernel transposes the reduced axes innermost first, which dominated a ResNet step).
 */
function reduce(onnxOp: 'ReduceSum' | 'ReduceMean') {
  return (args: KernelArgs, ctx: KernelContext): Attempt => {
    const { backend } = args;
    const x = args.inputs.x!;
    if (size(x.shape) < ELEMENTWISE_MIN_SIZE) return null;
    const values = floatValues(backend, x);
    if (!values) return null;
    const rank = x.shape.length;
    const axis = args.attrs?.axis as number | number[] | null | undefined;
    const axes = axis == null ? x.shape.map((_, i) => i) : tf.util.parseAxisParam(axis, x.shape);
    if (axes.length === 0) return null;
    const keepDims = Boolean(args.attrs?.keepDims);
    const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const outShape = keepDims ? kept : x.shape.filter((_, i) => !axes.includes(i));
    const key = `${onnxOp}|${x.shape.join('x')}|${axes}|${keepDims}`;
    const build = (): Uint8Array => {
      const g = new GraphBuilder();
      const xin = g.input('in0', x.shape);
      const y =
        onnxOp === 'ReduceSum'
          ? g.node('ReduceSum', [xin, g.constantInt64(axes)], { keepdims: keepDims ? 1 : 0 })
          : g.node('ReduceMean', [xin], { axes, keepdims: keepDims ? 1 : 0 });
      g.output(y, 'y', outShape);
      return g.encode();
    };
    const out = ctx.runtime(backend).run(key, build, [{ data: values, dims: x.shape }]);
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
}

/** tfjs Step with alpha 0 (the gradient of relu): 1 where x > 0, else 0, as Sign(Relu(x)). */
function step(args: KernelArgs, ctx: KernelContext): Attempt {
  if (((args.attrs?.alpha as number | undefined) ?? 0) !== 0) return null;
  return stepUnary(args, ctx);
}

const stepUnary = unary('Step');

/* ------------------------------------------------------------------ optimiser step */

/**
 * Kernel name of the fused optimiser step that @supermask/core's FusedOptimizer runs when the
 * active backend registers it (inputs x, g, s1, s2; attrs kind and c; outputs x', s1', s2').
 */
export const OPTIMIZER_STEP_KERNEL = 'SupermaskOptimizerStep';

/**
 * One Adam or RMSProp update of a variable as an ONNX graph: the same float32 operations in the
 * same order as tfjs's optimisers (each IEEE single-precision op is correctly rounded, as tfjs's
 * double-then-round is), so the result is bit-identical to tf.train.adam / rmsprop on cpu.
 */
function optimizerStep(args: KernelArgs, ctx: KernelContext): tf.TensorInfo[] {
  const { backend } = args;
  const { x, g, s1, s2 } = args.inputs;
  const kind = args.attrs?.kind as 'adam' | 'rmsprop';
  const c = args.attrs?.c as number[];
  const values = [x, g, s1, s2].map((t) => floatValues(backend, t));
  if (values.some((v) => v === null) || (kind !== 'adam' && kind !== 'rmsprop')) {
    throw new Error(`${OPTIMIZER_STEP_KERNEL}: expected float32 x, g, s1, s2 of one size and kind adam or rmsprop`);
  }
  const n = values[0]!.length;
  if (values.some((v) => v!.length !== n)) throw new Error(`${OPTIMIZER_STEP_KERNEL}: x, g, s1 and s2 differ in size`);
  const build = (): Uint8Array => {
    const gb = new GraphBuilder();
    const [X, G, A, B] = ['in0', 'in1', 'in2', 'in3'].map((name) => gb.input(name, ['n']));
    const k = c.map((_, i) => gb.input(`in${4 + i}`, []));
    const mul = (a: string, b: string): string => gb.node('Mul', [a, b]);
    const add = (a: string, b: string): string => gb.node('Add', [a, b]);
    const div = (a: string, b: string): string => gb.node('Div', [a, b]);
    let x1: string;
    let a1: string;
    let b1: string;
    if (kind === 'adam') {
      const [beta1, c1, beta2, c2, d1, d2, eps, nlr] = k as [string, string, string, string, string, string, string, string];
      a1 = add(mul(A!, beta1), mul(G!, c1));
      b1 = add(mul(B!, beta2), mul(mul(G!, G!), c2));
      x1 = add(mul(div(div(a1, d1), add(gb.node('Sqrt', [div(b1, d2)]), eps)), nlr), X!);
    } else {
      const [decay, c1, mu, lr, eps] = k as [string, string, string, string, string];
      a1 = add(mul(A!, decay), mul(mul(G!, G!), c1));
      b1 = add(mul(B!, mu), div(mul(G!, lr), gb.node('Sqrt', [add(a1, eps)])));
      x1 = gb.node('Sub', [X!, b1]);
    }
    gb.output(x1, 'x', ['n']);
    gb.output(a1, 'a', ['n']);
    gb.output(b1, 'b', ['n']);
    return gb.encode();
  };
  const feeds: Feed[] = [...values.map((v) => ({ data: v!, dims: [n] })), ...c.map((v) => ({ data: Float32Array.of(v), dims: [] }))];
  const [xo, ao, bo] = ctx.runtime(backend).runOutputs(`OptimizerStep|${kind}|${c.length}`, build, feeds, ['x', 'a', 'b'], 0, undefined, [[n], [n], [n]]);
  return [
    backend.makeTensorInfo(x!.shape, 'float32', xo!),
    backend.makeTensorInfo(x!.shape, 'float32', ao!),
    backend.makeTensorInfo(x!.shape, 'float32', bo!),
  ];
}

/**
 * Kernel name of the straight-through gradient of a masked weight, the same string as
 * @supermask/core's STRAIGHT_THROUGH_GRAD_KERNEL (core's straightThroughProduct runs it when the
 * active backend registers it).
 */
export const STRAIGHT_THROUGH_GRAD_KERNEL = 'SupermaskStraightThroughGrad';

/**
 * dL/dS = dy * W * sign(S), edge-popup's straight-through gradient of the scores S of W * M(S),
 * in one call with one output instead of three kernels (Multiply, Sign, Multiply) and their
 * outputs: `Mul(Mul(dy, W), Sign(S))` in ONNX Runtime, or for fewer than ELEMENTWISE_MIN_SIZE
 * elements one JS loop with tfjs's roundings and sign (-1, 1, 0 for zeros and NaN). The same bits
 * as dy.mul(W).mul(sign(S)) on this backend (float products are correctly rounded either way).
 */
function straightThroughGrad(args: KernelArgs, ctx: KernelContext): tf.TensorInfo {
  const { backend } = args;
  const { dy, weight, scores } = args.inputs;
  const values = [dy, weight, scores].map((t) => floatValues(backend, t));
  if (values.some((v) => v === null) || [weight, scores].some((t) => t!.shape.join() !== dy!.shape.join())) {
    throw new Error(`${STRAIGHT_THROUGH_GRAD_KERNEL}: expected float32 dy, weight and scores of one shape`);
  }
  const [g, w, s] = values as [Float32Array, Float32Array, Float32Array];
  const n = g.length;
  if (n < ELEMENTWISE_MIN_SIZE) {
    const out = new Float32Array(n);
    // Branch-free sign: random score signs would mispredict a branch per element.
    for (let i = 0; i < n; i++) out[i] = Math.fround(g[i]! * w[i]!) * (Number(s[i]! > 0) - Number(s[i]! < 0));
    return backend.makeTensorInfo(dy!.shape, 'float32', out);
  }
  const build = (): Uint8Array => {
    const gb = new GraphBuilder();
    const [G, W, S] = ['in0', 'in1', 'in2'].map((name) => gb.input(name, ['n']));
    gb.output(gb.node('Mul', [gb.node('Mul', [G!, W!]), gb.node('Sign', [S!])]), 'y', ['n']);
    return gb.encode();
  };
  const out = ctx.runtime(backend).run('StraightThroughGrad', build, [g, w, s].map((data) => ({ data, dims: [n] })), 0, [n]);
  return backend.makeTensorInfo(dy!.shape, 'float32', out);
}

/** Kernels with no cpu counterpart, registered on the ORT backend only. */
export const EXTRA_KERNELS: readonly {
  kernelName: string;
  run(args: KernelArgs, ctx: KernelContext): tf.TensorInfo | tf.TensorInfo[];
  /** The unit gradient honours its gradientMask input (@supermask/core's APPLIES_GRADIENT_MASK, the same name). */
  appliesGradientMask?: true;
}[] = [
  { kernelName: OPTIMIZER_STEP_KERNEL, run: optimizerStep },
  { kernelName: CONV_BN_KERNEL, run: convBn },
  { kernelName: CONV_BN_GRAD_KERNEL, run: convBnGrad, appliesGradientMask: true },
  { kernelName: STRAIGHT_THROUGH_GRAD_KERNEL, run: straightThroughGrad },
];

/** The kernels computed by ONNX Runtime. Each returns null for inputs it does not take (then the plain cpu kernel runs). */
export const ORT_KERNELS: readonly OrtKernel[] = [
  { kernelName: 'BatchMatMul', run: (a, c) => matMul(a, c, false) },
  { kernelName: '_FusedMatMul', run: (a, c) => matMul(a, c, true) },
  { kernelName: 'Conv2D', run: (a, c) => conv(a, c, false) },
  { kernelName: 'FusedConv2D', run: (a, c) => conv(a, c, true) },
  { kernelName: 'Conv2DBackpropInput', run: convBackpropInput },
  { kernelName: 'Conv2DBackpropFilter', run: convBackpropFilter },
  { kernelName: 'Multiply', run: binary('Mul') },
  { kernelName: 'Add', run: binary('Add') },
  { kernelName: 'Sub', run: binary('Sub') },
  { kernelName: 'RealDiv', run: binary('Div') },
  { kernelName: 'Sign', run: unary('Sign') },
  { kernelName: 'Abs', run: unary('Abs') },
  { kernelName: 'Relu', run: unary('Relu') },
  { kernelName: 'Square', run: unary('Square') },
  { kernelName: 'Step', run: step },
  { kernelName: 'Sum', run: reduce('ReduceSum') },
  { kernelName: 'Mean', run: reduce('ReduceMean') },
];
