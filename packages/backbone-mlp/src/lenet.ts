import * as tf from '@tensorflow/tfjs-core';
import {
  inputSize,
  describeSpec,
  kaimingNormal,
  MaskedDense,
  signedConstant,
  type Backbone,
  type BackboneSpec,
  type ForwardContext,
  type Rng,
} from '@supermask/core';

export type WeightInit = 'signed_constant' | 'kaiming_normal';

export interface LeNetOptions {
  /** Widths of the hidden layers (LeNet 300-100 by default). */
  hidden: number[];
  weight_init: WeightInit;
}

export const LENET_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    hidden: {
      type: 'array',
      items: { type: 'integer', minimum: 1 },
      minItems: 1,
      default: [300, 100],
      description: 'Hidden layer widths',
    },
    weight_init: {
      enum: ['signed_constant', 'kaiming_normal'],
      default: 'signed_constant',
      description: 'signed_constant: ±sqrt(2/fan_in) with random signs (SupSup); kaiming_normal: N(0, 2/fan_in)',
    },
  },
};

/**
 * The fully connected network of the SplitMNIST experiments: input (flattened) -> hidden layers
 * with ReLU -> a shared head of numOutputs outputs (the classes, then any superfluous outputs). Every layer is a bias-free masked dense layer;
 * there is no batch norm, so the network has no per-task state besides the masks.
 */
export class LeNet implements Backbone {
  readonly id = 'lenet';
  readonly layers: MaskedDense[];
  private readonly inputs: number;

  constructor(readonly spec: BackboneSpec, readonly options: LeNetOptions, rng: Rng) {
    this.inputs = inputSize(spec.inputShape);
    const widths = [this.inputs, ...options.hidden, spec.numOutputs];
    this.layers = widths.slice(1).map((out, i) => {
      const fanIn = widths[i]!;
      const name = i === widths.length - 2 ? 'head' : `fc${i + 1}`;
      const init = options.weight_init === 'signed_constant' ? signedConstant : kaimingNormal;
      return new MaskedDense(name, fanIn, out, init(fanIn * out, fanIn, rng.child(`weights/${name}`)));
    });
  }

  addTask(): void {}

  features(x: tf.Tensor, ctx: ForwardContext): tf.Tensor2D {
    let h = x.reshape([-1, this.inputs]) as tf.Tensor2D;
    for (const layer of this.layers.slice(0, -1)) h = tf.relu(layer.apply(h, ctx));
    return h;
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor2D {
    return this.layers[this.layers.length - 1]!.apply(this.features(x, ctx), ctx);
  }

  describe(): Record<string, unknown> {
    return {
      id: this.id,
      ...describeSpec(this.spec),
      hidden: this.options.hidden,
      weight_init: this.options.weight_init,
      layers: this.layers.map((l) => ({ name: l.name, type: 'masked_dense', shape: l.shape, bias: false })),
    };
  }

  dispose(): void {
    for (const l of this.layers) l.dispose();
  }
}
