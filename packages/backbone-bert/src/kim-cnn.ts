/**
 * The paper's text model (Kim 2014 CNN over frozen BERT token features): masked 1-D convolutions
 * of widths 3, 4 and 5 (200 filters each by default) slide over the [length, hidden] features,
 * ReLU, max over time, concatenation, and a masked classifier. Every layer is bias-free and
 * masked, as in SupSup's networks; dropout is left out (masks are the regulariser, and a
 * deterministic forward keeps earlier tasks bit-exact).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError,
  describeSpec,
  kaimingNormal,
  MaskedConv1d,
  MaskedDense,
  signedConstant,
  type Backbone,
  type BackboneSpec,
  type ForwardContext,
  type JsonSchema,
  type MaskedLayer,
  type Rng,
} from '@supermask/core';

export type WeightInit = 'signed_constant' | 'kaiming_normal';

export interface KimCnnOptions {
  filter_sizes: number[];
  /** Filters per width. */
  filters: number;
  weight_init: WeightInit;
}

export const KIM_CNN_PROPERTIES: Record<string, JsonSchema> = {
  filter_sizes: {
    type: 'array',
    items: { type: 'integer', minimum: 1 },
    minItems: 1,
    default: [3, 4, 5],
    description: 'Widths of the 1-D convolutions over tokens (Kim 2014: 3, 4, 5)',
  },
  filters: { type: 'integer', minimum: 1, default: 200, description: 'Filters per width' },
  weight_init: {
    enum: ['signed_constant', 'kaiming_normal'],
    default: 'signed_constant',
    description: 'signed_constant: ±sqrt(2/fan_in) with random signs (SupSup); kaiming_normal: N(0, 2/fan_in)',
  },
};

export const KIM_CNN_SCHEMA: JsonSchema = { type: 'object', additionalProperties: false, properties: KIM_CNN_PROPERTIES };

/** The convolutions, pooling and masked classifier of Kim-CNN, reusable over any [batch, length, hidden] features. */
export class KimCnnHead {
  readonly convs: MaskedConv1d[];
  readonly classifier: MaskedDense;
  readonly featureSize: number;

  constructor(prefix: string, hidden: number, length: number, numOutputs: number, readonly options: KimCnnOptions, rng: Rng) {
    const tooWide = options.filter_sizes.filter((k) => k > length);
    if (tooWide.length > 0) throw new ConfigError('Kim-CNN filters wider than the text', [`backbone.options.filter_sizes: ${tooWide.join(', ')} exceed the sequence length ${length}`]);
    const init = options.weight_init === 'signed_constant' ? signedConstant : kaimingNormal;
    this.convs = options.filter_sizes.map((k) => {
      const name = `${prefix}conv${k}`;
      return new MaskedConv1d(name, hidden, options.filters, k, 1, 'valid', init(k * hidden * options.filters, k * hidden, rng.child(`weights/${name}`)));
    });
    this.featureSize = options.filters * options.filter_sizes.length;
    const head = `${prefix}head`;
    this.classifier = new MaskedDense(head, this.featureSize, numOutputs, init(this.featureSize * numOutputs, this.featureSize, rng.child(`weights/${head}`)));
  }

  get layers(): MaskedLayer[] {
    return [...this.convs, this.classifier];
  }

  /** [batch, filters * widths]: ReLU of each convolution, max over time, concatenated. */
  features(x: tf.Tensor3D, ctx: ForwardContext): tf.Tensor2D {
    const pooled = this.convs.map((conv) => tf.max(tf.relu(conv.apply(x, ctx)), 1) as tf.Tensor2D);
    return pooled.length === 1 ? pooled[0]! : tf.concat(pooled, 1);
  }

  forward(x: tf.Tensor3D, ctx: ForwardContext): tf.Tensor2D {
    return this.classifier.apply(this.features(x, ctx), ctx);
  }

  describe(): Record<string, unknown>[] {
    return this.layers.map((l) => ({ name: l.name, type: l instanceof MaskedConv1d ? 'masked_conv1d' : 'masked_dense', shape: l.shape, bias: false }));
  }

  dispose(): void {
    for (const l of this.layers) l.dispose();
  }
}

/** Backbone `kim-cnn`: Kim-CNN over cached frozen-BERT features (input [length, hidden]). */
export class KimCnn implements Backbone {
  readonly id = 'kim-cnn';
  readonly head: KimCnnHead;
  readonly layers: MaskedLayer[];
  private readonly length: number;
  private readonly hidden: number;

  constructor(readonly spec: BackboneSpec, readonly options: KimCnnOptions, rng: Rng) {
    if (spec.inputShape.length !== 2) {
      throw new ConfigError('backbone kim-cnn needs inputs of shape [length, hidden] (frozen BERT features)', [
        `stream input shape: [${spec.inputShape.join(', ')}]; use a text dataset with encoder.output "features"`,
      ]);
    }
    [this.length, this.hidden] = spec.inputShape as [number, number];
    this.head = new KimCnnHead('', this.hidden, this.length, spec.numOutputs, options, rng);
    this.layers = this.head.layers;
  }

  addTask(): void {}

  features(x: tf.Tensor, ctx: ForwardContext): tf.Tensor2D {
    return this.head.features(x.reshape([-1, this.length, this.hidden]) as tf.Tensor3D, ctx);
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor2D {
    return this.head.forward(x.reshape([-1, this.length, this.hidden]) as tf.Tensor3D, ctx);
  }

  describe(): Record<string, unknown> {
    return {
      id: this.id,
      ...describeSpec(this.spec),
      ...this.options,
      layers: this.head.describe(),
    };
  }

  dispose(): void {
    this.head.dispose();
  }
}
