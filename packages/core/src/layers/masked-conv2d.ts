import * as tf from '@tensorflow/tfjs-core';
import type { ForwardContext } from '../contracts.js';
import { MaskedLayer } from './masked-layer.js';

/** Padding of a convolution: tfjs's 'same' / 'valid', or n zero rows and columns on every side. */
export type ConvPadding = 'same' | 'valid' | number;

/**
 * A bias-free masked 2-D convolution, NHWC: y = conv2d(x, W * M_task). W has the tfjs filter
 * shape [kh, kw, in, out]; fan-in is kh * kw * in (as PyTorch counts it for Kaiming init).
 * A numeric padding pads symmetrically (PyTorch's `padding=n`), so a 3x3 stride-2 convolution
 * with padding 1 sees the same windows as in PyTorch.
 */
export class MaskedConv2d extends MaskedLayer {
  constructor(
    name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly stride: number,
    readonly padding: ConvPadding,
    initialWeight: Float32Array,
  ) {
    super(
      name,
      [kernelSize, kernelSize, inChannels, outChannels],
      kernelSize * kernelSize * inChannels,
      kernelSize * kernelSize * outChannels,
      initialWeight,
    );
  }

  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return tf.conv2d(x, ctx.weight(this) as tf.Tensor4D, this.stride, this.padding);
  }
}
