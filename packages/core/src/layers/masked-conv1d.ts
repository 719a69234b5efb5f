import * as tf from '@tensorflow/tfjs-core';
import type { ForwardContext } from '../contracts.js';
import { MaskedLayer } from './masked-layer.js';

/** Padding of a 1-D convolution: tfjs's 'same' / 'valid'. */
export type Conv1dPadding = 'same' | 'valid';

/**
 * A bias-free masked 1-D convolution over sequences, NWC ([batch, length, channels]):
 * y = conv1d(x, W * M_task). W has the tfjs filter shape [k, in, out]; fan-in is k * in (as
 * PyTorch counts it for Kaiming init), fan-out k * out. Used by the Kim-CNN text head
 * (filters of widths 3, 4, 5 sliding over token features).
 */
export class MaskedConv1d extends MaskedLayer {
  constructor(
    name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly stride: number,
    readonly padding: Conv1dPadding,
    initialWeight: Float32Array,
  ) {
    super(name, [kernelSize, inChannels, outChannels], kernelSize * inChannels, kernelSize * outChannels, initialWeight);
  }

  apply(x: tf.Tensor3D, ctx: ForwardContext): tf.Tensor3D {
    return tf.conv1d(x, ctx.weight(this) as tf.Tensor3D, this.stride, this.padding);
  }
}
