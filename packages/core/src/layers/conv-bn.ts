import * as tf from '@tensorflow/tfjs-core';
import type { ForwardContext } from '../contracts.js';
import type { TaskBatchNorm } from './batch-norm.js';
import type { MaskedConv2d } from './masked-conv2d.js';

/**
 * Kernel names of the fused unit conv + non-affine batch norm (+ skip) (+ ReLU), NCHW, and of its
 * gradient. A backend that registers both (@supermask/kernels-ort's cpu-ort does) runs a
 * convolutional backbone's units as one kernel each way instead of some twenty tfjs ops. The
 * gradient kernel's optional input `gradientMask` (0/1, the filter's shape) asks for dfilter
 * multiplied by it; `convBn` passes it only to a kernel registered with APPLIES_GRADIENT_MASK.
 */
export const CONV_BN_KERNEL = 'SupermaskConvBn';
export const CONV_BN_GRAD_KERNEL = 'SupermaskConvBnGrad';

/**
 * Whether the active backend runs the fused unit: it registers both kernels and the environment
 * variable SUPERMASK_FUSED_CONV is not `0` (the switch back to the op-by-op path).
 */
export function fusedConvBnAvailable(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  if (env?.SUPERMASK_FUSED_CONV === '0') return false;
  const backend = tf.getBackend();
  return tf.getKernel(CONV_BN_KERNEL, backend) !== undefined && tf.getKernel(CONV_BN_GRAD_KERNEL, backend) !== undefined;
}

/**
 * Property of a registered CONV_BN_GRAD_KERNEL config (tf.registerKernel keeps the object) by which
 * a backend says that it honours the input `gradientMask`: only then does `convBn` pass the mask
 * and trust the returned filter gradient to be multiplied by it. A kernel without it (an older
 * release, a third-party backend) gets no mask, and the weight phase multiplies as always.
 */
export const APPLIES_GRADIENT_MASK = 'appliesGradientMask';

/** Whether the active backend's fused-unit gradient kernel declares APPLIES_GRADIENT_MASK. */
function gradKernelAppliesMask(): boolean {
  const config = tf.getKernel(CONV_BN_GRAD_KERNEL, tf.getBackend()) as unknown as Record<string, unknown> | undefined;
  return config?.[APPLIES_GRADIENT_MASK] === true;
}

/**
 * Filter gradients that a fused unit's gradient kernel returned already multiplied by the gradient
 * mask it was given (its contract): the weight phase's context does not multiply them again.
 */
const maskedGradients = new WeakSet<tf.Tensor>();

/** Whether `gradient` is a fused unit's filter gradient already multiplied by the context's gradient mask. */
export function isMaskedGradient(gradient: tf.Tensor): boolean {
  return maskedGradients.has(gradient);
}

/** One unit: a masked convolution, its per-task batch norm, and whether a ReLU follows. */
export interface ConvBnUnit {
  conv: MaskedConv2d;
  bn: TaskBatchNorm;
  relu: boolean;
}

/**
 * relu?(bn(conv(x, ctx.weight(conv))) + skip) on NCHW tensors through the fused kernels: the
 * same function as `bn.apply(conv.apply(x))` (NHWC) with the add and the ReLU, batch norm included
 * (batch statistics while training or with ctx.batchStatistics, the task's running ones
 * otherwise, the running ones updated as TaskBatchNorm.apply updates them). Gradients reach x,
 * skip and the effective weight, so they flow on to whatever ctx.weight made it from (scores or
 * weights). Call only when fusedConvBnAvailable(); the convolution's padding must be a number.
 */
export function convBn(x: tf.Tensor4D, unit: ConvBnUnit, ctx: ForwardContext, skip?: tf.Tensor4D): tf.Tensor4D {
  const { conv, bn, relu } = unit;
  if (typeof conv.padding !== 'number') throw new Error(`layer ${conv.name}: the fused conv + batch-norm unit needs a numeric padding, got "${conv.padding}"`);
  const state = ctx.batchStatistics ? undefined : bn.running(ctx.task);
  const mode = ctx.batchStatistics || ctx.training ? 'batch' : 'running';
  const update = Boolean(state && ctx.training && !state.frozen);
  const attrs = { stride: conv.stride, pad: conv.padding, relu, mode, epsilon: bn.epsilon };
  const weight = ctx.weight(conv);
  const gradientMask = ctx.gradientMask && gradKernelAppliesMask() ? ctx.gradientMask(conv) : undefined;
  const op = tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xi, wi, si] = args as tf.Tensor[];
    const inputs: tf.NamedTensorMap = { x: xi!, filter: wi! };
    if (si) inputs.skip = si;
    if (mode === 'running') Object.assign(inputs, { mean: state!.mean, variance: state!.variance });
    const [y, xhat, invstd, mean, variance] = tf.engine().runKernel(CONV_BN_KERNEL, inputs, attrs) as tf.Tensor[];
    if (update) bn.track(ctx.task, mean!, variance!, y!.size / y!.shape[1]!);
    save([xi!, wi!, y!, xhat!, invstd!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sw, sy, sxhat, sinv] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const gradInputs: tf.NamedTensorMap = { dy: dy as tf.Tensor, x: sx, filter: sw, y: sy, xhat: sxhat, invstd: sinv };
        // Only the gradient mask's positions of dfilter are used (a weight phase): the kernel returns
        // dfilter multiplied by the mask (a backend may compute those positions only).
        const masked = Boolean(gradientMask && !gradientMask.isDisposed);
        if (masked) gradInputs.gradientMask = gradientMask!;
        const grads = tf.engine().runKernel(CONV_BN_GRAD_KERNEL, gradInputs, { ...attrs, skip: Boolean(si) }) as tf.Tensor[];
        if (masked) maskedGradients.add(grads[1]!);
        return grads;
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (skip ? op(x, weight, skip) : op(x, weight)) as tf.Tensor4D;
}
