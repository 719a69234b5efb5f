import * as tf from '@tensorflow/tfjs-core';
import type { ForwardContext } from '../contracts.js';
import { MaskedLayer } from './masked-layer.js';

/** A bias-free masked fully connected layer: y = x · (W * M_task). W has shape [in, out]. */
export class MaskedDense extends MaskedLayer {
  constructor(name: string, readonly inputs: number, readonly outputs: number, initialWeight: Float32Array) {
    super(name, [inputs, outputs], inputs, outputs, initialWeight);
  }

  apply(x: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
    return tf.matMul(x, ctx.weight(this) as tf.Tensor2D);
  }
}
