/**
 * Backbone `bert`: BERT inside the network, reading token ids ([3, length] per text: ids,
 * attention mask, token types; see `BertTextEncoder`).
 *
 * - `mask_encoder: true` (beyond the paper): every dense layer of every encoder layer (query, key,
 *   value, attention output, intermediate, output) becomes a `MaskedDense` initialised from the
 *   checkpoint, so each task learns its own mask over the pretrained weights (and ExSSNeT's weight
 *   phase trains the weights only that task's mask uses). The checkpoint biases stay frozen and
 *   unmasked; embeddings, LayerNorms and the pooler stay frozen.
 * - `mask_encoder: false`: BERT frozen, run on every batch (the uncached counterpart of the
 *   `kim-cnn` backbone over cached features).
 *
 * The head is masked and shared by all tasks with numOutputs outputs, so it is per task through
 * its per-task mask (SupSup's head): `linear` over the pooler output (BERT's classifier), or
 * `kim-cnn` over the last hidden state (padded positions zeroed).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError,
  describeSpec,
  kaimingNormal,
  MaskedDense,
  signedConstant,
  type Backbone,
  type BackboneSpec,
  type ForwardContext,
  type JsonSchema,
  type MaskedLayer,
  type Rng,
} from '@supermask/core';
import { assertSyncReads } from './encoder.js';
import { bertForward, ENCODER_DENSE_NAMES, frozenDense, type BertWeights, type DenseFn, type EncoderDenseName } from './bert.js';
import { KIM_CNN_PROPERTIES, KimCnnHead, type KimCnnOptions, type WeightInit } from './kim-cnn.js';

export interface BertBackboneOptions {
  /** Model directory (default: the text dataset's encoder model). */
  model?: string;
  /** Per-task masks (and ExSSNeT ownership) on the encoder's dense layers. */
  mask_encoder: boolean;
  /** Which dense layers of each encoder layer are masked (default: all six). */
  masked_layers: EncoderDenseName[];
  head: 'linear' | 'kim-cnn';
  filter_sizes: number[];
  filters: number;
  weight_init: WeightInit;
}

export const BERT_BACKBONE_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    model: { type: 'string', minLength: 1, description: "Model directory or name (default: the text dataset's encoder model)" },
    mask_encoder: {
      type: 'boolean',
      default: true,
      description: "true: per-task masks (and ExSSNeT ownership) on the encoder's dense layers, initialised from the checkpoint; false: BERT frozen, run on every batch",
    },
    masked_layers: {
      type: 'array',
      items: { enum: [...ENCODER_DENSE_NAMES] },
      uniqueItems: true,
      minItems: 1,
      default: [...ENCODER_DENSE_NAMES],
      description: 'Dense layers of each encoder layer that get masks (with mask_encoder)',
    },
    head: { enum: ['linear', 'kim-cnn'], default: 'linear', description: 'Masked classifier: linear over the pooler output, or Kim-CNN over the last hidden state' },
    ...KIM_CNN_PROPERTIES,
  },
};

/** BERT as a masked backbone. `weights` are the frozen checkpoint tensors (shared, not disposed here). */
export class BertBackbone implements Backbone {
  readonly id = 'bert';
  readonly layers: MaskedLayer[] = [];
  /** Masked encoder layers by dense name (`layer.3.query`). */
  readonly encoderLayers = new Map<string, { layer: MaskedDense; bias: tf.Tensor1D }>();
  private readonly linear?: MaskedDense;
  private readonly kim?: KimCnnHead;
  private readonly length: number;

  constructor(
    readonly spec: BackboneSpec,
    readonly options: BertBackboneOptions,
    readonly weights: BertWeights,
    rng: Rng,
    readonly modelDir = '',
    /** A model loaded for this backbone alone (its `model` option), disposed with it. */
    private readonly ownedModel?: { dispose(): void },
  ) {
    if (spec.inputShape.length !== 2 || spec.inputShape[0] !== 3) {
      throw new ConfigError('backbone bert reads token ids, shape [3, max_length]', [
        `stream input shape: [${spec.inputShape.join(', ')}]; set dataset.options.encoder.output to "tokens" (or use backbone kim-cnn over features)`,
      ]);
    }
    this.length = spec.inputShape[1]!;
    const cfg = weights.config;
    if (this.length > cfg.max_position_embeddings) {
      throw new ConfigError('texts longer than the model accepts', [`encoder max_length ${this.length} > max_position_embeddings ${cfg.max_position_embeddings}`]);
    }
    if (options.mask_encoder) {
      assertSyncReads('backbone bert with mask_encoder');
      weights.layers.forEach((layerWeights, i) => {
        for (const name of options.masked_layers) {
          const w = layerWeights.dense[name];
          const [inputs, outputs] = w.weight.shape;
          const layer = new MaskedDense(`bert.layer.${i}.${name}`, inputs, outputs, w.weight.dataSync() as Float32Array);
          this.encoderLayers.set(`layer.${i}.${name}`, { layer, bias: w.bias });
          this.layers.push(layer);
        }
      });
    }
    const init = options.weight_init === 'signed_constant' ? signedConstant : kaimingNormal;
    if (options.head === 'linear') {
      const H = cfg.hidden_size;
      this.linear = new MaskedDense('head', H, spec.numOutputs, init(H * spec.numOutputs, H, rng.child('weights/head')));
      this.layers.push(this.linear);
    } else {
      const kimOptions: KimCnnOptions = { filter_sizes: options.filter_sizes, filters: options.filters, weight_init: options.weight_init };
      // Same layer names as backbone kim-cnn: with the same seed, the same weights and scores.
      this.kim = new KimCnnHead('', cfg.hidden_size, this.length, spec.numOutputs, kimOptions, rng);
      this.layers.push(...this.kim.layers);
    }
  }

  addTask(): void {}

  private dense(ctx: ForwardContext): DenseFn {
    if (this.encoderLayers.size === 0) return frozenDense;
    return (name, x, w) => {
      const masked = this.encoderLayers.get(name);
      return masked ? tf.add(masked.layer.apply(x, ctx), masked.bias) : frozenDense(name, x, w);
    };
  }

  /** Features the head reads: the pooler output (linear head) or Kim-CNN's pooled maps. */
  features(x: tf.Tensor, ctx: ForwardContext): tf.Tensor2D {
    const rows = x.reshape([-1, 3, this.length]);
    const n = rows.shape[0]!;
    const [ids, mask, types] = tf.unstack(rows, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const out = bertForward(this.weights, { inputIds: ids, attentionMask: mask, tokenTypeIds: types }, this.dense(ctx));
    if (this.linear) {
      if (out.poolerOutput) return out.poolerOutput;
      // No pooler in the checkpoint: the [CLS] hidden state.
      return tf.reshape(tf.slice(out.lastHiddenState, [0, 0, 0], [n, 1, -1]), [n, -1]) as tf.Tensor2D;
    }
    const hidden = tf.mul(out.lastHiddenState, tf.expandDims(mask, 2)) as tf.Tensor3D;
    return this.kim!.features(hidden, ctx);
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor2D {
    const f = this.features(x, ctx);
    return this.linear ? this.linear.apply(f, ctx) : this.kim!.classifier.apply(f, ctx);
  }

  describe(): Record<string, unknown> {
    const cfg = this.weights.config;
    return {
      id: this.id,
      model: this.modelDir,
      ...describeSpec(this.spec),
      mask_encoder: this.options.mask_encoder,
      masked_layers: this.options.mask_encoder ? this.options.masked_layers : [],
      head: this.options.head,
      bert: {
        hidden_size: cfg.hidden_size,
        num_hidden_layers: cfg.num_hidden_layers,
        num_attention_heads: cfg.num_attention_heads,
        intermediate_size: cfg.intermediate_size,
        vocab_size: cfg.vocab_size,
      },
      frozen: 'embeddings, LayerNorms, pooler and every bias (checkpoint values)',
      layers: this.layers.map((l) => ({ name: l.name, shape: l.shape, bias: l.name.startsWith('bert.') ? 'frozen checkpoint bias, unmasked' : false })),
    };
  }

  dispose(): void {
    for (const l of this.layers) l.dispose();
    this.ownedModel?.dispose();
  }
}
