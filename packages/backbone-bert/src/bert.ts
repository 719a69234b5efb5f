/**
 * BERT in TensorFlow.js, loaded from a Hugging Face directory (config.json + model.safetensors):
 * embeddings (word + position + token type) and LayerNorm; per layer, multi-head self-attention
 * with the padding mask (Hugging Face's additive bias: float32 min on padded keys), the attention
 * output dense + residual + LayerNorm, the feed-forward block (intermediate dense, GELU with erf,
 * output dense + residual + LayerNorm); the pooler (tanh dense over [CLS]). Dropout is absent:
 * this is inference-mode BERT.
 *
 * Every dense layer goes through a `DenseFn`, so a caller can substitute masked layers
 * (`MaskedBert`) without a second implementation of the equations.
 */
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { asFloat32, DataError, readSafetensors } from '@supermask/core';
import { checkModelFiles, readBertConfig, type BertConfig } from './model-dir.js';

/** A dense layer of the checkpoint: weight stored [in, out] (the transpose of PyTorch's), bias [out]. */
export interface DenseWeights {
  weight: tf.Tensor2D;
  bias: tf.Tensor1D;
}

export interface LayerNormWeights {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
}

/** The dense layers of one encoder layer, by the names the masked variant uses. */
export const ENCODER_DENSE_NAMES = ['query', 'key', 'value', 'attention_output', 'intermediate', 'output'] as const;
export type EncoderDenseName = (typeof ENCODER_DENSE_NAMES)[number];

export interface EncoderLayerWeights {
  dense: Record<EncoderDenseName, DenseWeights>;
  attentionNorm: LayerNormWeights;
  outputNorm: LayerNormWeights;
}

export interface BertWeights {
  config: BertConfig;
  wordEmbeddings: tf.Tensor2D;
  positionEmbeddings: tf.Tensor2D;
  tokenTypeEmbeddings: tf.Tensor2D;
  embeddingNorm: LayerNormWeights;
  layers: EncoderLayerWeights[];
  /** Absent in checkpoints saved without the pooler (e.g. masked-LM heads only). */
  pooler?: DenseWeights;
}

/** A batch of tokenised inputs, each [batch, length]. */
export interface BertInputs {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  tokenTypeIds?: tf.Tensor2D;
}

export interface BertOutputs {
  /** [batch, length, hidden]. */
  lastHiddenState: tf.Tensor3D;
  /** [batch, hidden]; absent when the checkpoint has no pooler. */
  poolerOutput?: tf.Tensor2D;
}

/**
 * Applies dense layer `name` (e.g. `layer.3.query`, `pooler`) to `x` [rows, in]: x W + b.
 * `weights` are the checkpoint's.
 */
export type DenseFn = (name: string, x: tf.Tensor2D, weights: DenseWeights) => tf.Tensor2D;

/** The frozen dense layer: x W + b with the checkpoint's weights. */
export const frozenDense: DenseFn = (_name, x, w) => tf.add(tf.matMul(x, w.weight), w.bias);

/** Hugging Face's additive attention bias for padded keys: the most negative float32. */
export const FLOAT32_MIN = -3.4028234663852886e38;

/** Tensor names of the checkpoint, tried with and without the `bert.` prefix, LayerNorm as weight/bias or gamma/beta. */
function nameCandidates(name: string): string[] {
  const variants = [name];
  if (name.endsWith('LayerNorm.weight')) variants.push(name.replace(/weight$/, 'gamma'));
  if (name.endsWith('LayerNorm.bias')) variants.push(name.replace(/bias$/, 'beta'));
  return variants.flatMap((v) => [v, `bert.${v}`]);
}

/** Reads the checkpoint of a model directory into frozen tensors (validated against config.json). */
export function loadBertWeights(dir: string): BertWeights {
  checkModelFiles(dir, ['config.json', 'model.safetensors']);
  const configFile = join(dir, 'config.json');
  const file = join(dir, 'model.safetensors');
  const config = readBertConfig(configFile);
  const tensors = readSafetensors(file).tensors;
  const H = config.hidden_size;
  const I = config.intermediate_size;
  const created: tf.Tensor[] = [];
  const take = (name: string, shape: number[], optional = false): { values: Float32Array } | undefined => {
    for (const candidate of nameCandidates(name)) {
      const t = tensors.get(candidate);
      if (!t) continue;
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new DataError(`${file}: tensor "${candidate}" has shape [${t.shape.join(', ')}], but config.json (${configFile}) implies [${shape.join(', ')}]`, file);
      }
      if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') {
        throw new DataError(`${file}: tensor "${candidate}" is ${t.dtype}; BERT weights must be F32, F16 or BF16`, file);
      }
      return { values: asFloat32(t) };
    }
    if (optional) return undefined;
    throw new DataError(`${file} has no tensor "${name}" (nor "bert.${name}"): not a BERT checkpoint matching ${configFile}?`, file);
  };
  const keep = <T extends tf.Tensor>(t: T): T => {
    created.push(t);
    return t;
  };
  const matrix = (name: string, rows: number, cols: number) => keep(tf.tensor2d(take(name, [rows, cols])!.values, [rows, cols]));
  const vector = (name: string, n: number) => keep(tf.tensor1d(take(name, [n])!.values));
  // PyTorch's Linear stores [out, in]; keep [in, out] so the forward is x W.
  const dense = (prefix: string, inputs: number, outputs: number): DenseWeights => {
    const w = take(`${prefix}.weight`, [outputs, inputs])!;
    const weight = keep(tf.tidy(() => tf.tensor2d(w.values, [outputs, inputs]).transpose() as tf.Tensor2D));
    return { weight, bias: vector(`${prefix}.bias`, outputs) };
  };
  const norm = (prefix: string): LayerNormWeights => ({ gamma: vector(`${prefix}.weight`, H), beta: vector(`${prefix}.bias`, H) });
  try {
    const weights: BertWeights = {
      config,
      wordEmbeddings: matrix('embeddings.word_embeddings.weight', config.vocab_size, H),
      positionEmbeddings: matrix('embeddings.position_embeddings.weight', config.max_position_embeddings, H),
      tokenTypeEmbeddings: matrix('embeddings.token_type_embeddings.weight', config.type_vocab_size, H),
      embeddingNorm: norm('embeddings.LayerNorm'),
      layers: Array.from({ length: config.num_hidden_layers }, (_, i) => {
        const p = `encoder.layer.${i}`;
        return {
          dense: {
            query: dense(`${p}.attention.self.query`, H, H),
            key: dense(`${p}.attention.self.key`, H, H),
            value: dense(`${p}.attention.self.value`, H, H),
            attention_output: dense(`${p}.attention.output.dense`, H, H),
            intermediate: dense(`${p}.intermediate.dense`, H, I),
            output: dense(`${p}.output.dense`, I, H),
          },
          attentionNorm: norm(`${p}.attention.output.LayerNorm`),
          outputNorm: norm(`${p}.output.LayerNorm`),
        };
      }),
    };
    if (take('pooler.dense.weight', [H, H], true)) weights.pooler = dense('pooler.dense', H, H);
    return weights;
  } catch (error) {
    tf.dispose(created);
    throw error;
  }
}

/** Every tensor of a `BertWeights`. */
export function weightTensors(w: BertWeights): tf.Tensor[] {
  const out: tf.Tensor[] = [w.wordEmbeddings, w.positionEmbeddings, w.tokenTypeEmbeddings, w.embeddingNorm.gamma, w.embeddingNorm.beta];
  for (const l of w.layers) {
    for (const name of ENCODER_DENSE_NAMES) out.push(l.dense[name].weight, l.dense[name].bias);
    out.push(l.attentionNorm.gamma, l.attentionNorm.beta, l.outputNorm.gamma, l.outputNorm.beta);
  }
  if (w.pooler) out.push(w.pooler.weight, w.pooler.bias);
  return out;
}

function layerNorm(x: tf.Tensor, w: LayerNormWeights, eps: number): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), w.gamma), w.beta);
}

const SQRT_HALF = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

function activation(x: tf.Tensor, kind: BertConfig['hidden_act']): tf.Tensor {
  switch (kind) {
    case 'gelu':
      // Exact GELU: 0.5 x (1 + erf(x / sqrt 2)).
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT_HALF)), 1));
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI)), 1));
    case 'relu':
      return tf.relu(x);
  }
}

/** Applies a dense layer to a [batch, length, in] tensor through `dense`. */
function dense3d(dense: DenseFn, name: string, x: tf.Tensor, w: DenseWeights): tf.Tensor3D {
  const [b, l, d] = x.shape as [number, number, number];
  const y = dense(name, tf.reshape(x, [b * l, d]), w);
  return tf.reshape(y, [b, l, y.shape[1]]);
}

/**
 * The BERT forward pass. Call inside `tf.tidy` (or dispose the outputs): every intermediate is
 * a new tensor. `dense` decides how each dense layer applies its weights (frozen by default).
 */
export function bertForward(weights: BertWeights, inputs: BertInputs, dense: DenseFn = frozenDense): BertOutputs {
  const cfg = weights.config;
  const [batch, length] = inputs.inputIds.shape;
  if (length > cfg.max_position_embeddings) {
    throw new Error(`sequence length ${length} exceeds max_position_embeddings ${cfg.max_position_embeddings} of the model`);
  }
  const H = cfg.hidden_size;
  const heads = cfg.num_attention_heads;
  const headSize = H / heads;
  const eps = cfg.layer_norm_eps;
  const ids = inputs.inputIds.toInt();
  const types = inputs.tokenTypeIds ? inputs.tokenTypeIds.toInt() : tf.zeros([batch, length], 'int32');
  const positions = tf.range(0, length, 1, 'int32');
  let h: tf.Tensor = tf.add(tf.add(tf.gather(weights.wordEmbeddings, ids), tf.gather(weights.positionEmbeddings, positions)), tf.gather(weights.tokenTypeEmbeddings, types));
  h = layerNorm(h, weights.embeddingNorm, eps);
  // [batch, 1, 1, length]: 0 where attended, float32 min on padded keys.
  const bias = tf.reshape(tf.mul(tf.sub(1, tf.cast(inputs.attentionMask, 'float32')), FLOAT32_MIN), [batch, 1, 1, length]);
  const scale = 1 / Math.sqrt(headSize);
  const split = (x: tf.Tensor) => tf.transpose(tf.reshape(x, [batch, length, heads, headSize]), [0, 2, 1, 3]);
  weights.layers.forEach((layer, i) => {
    const p = `layer.${i}`;
    const q = split(dense3d(dense, `${p}.query`, h, layer.dense.query));
    const k = split(dense3d(dense, `${p}.key`, h, layer.dense.key));
    const v = split(dense3d(dense, `${p}.value`, h, layer.dense.value));
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), scale), bias);
    const probs = tf.softmax(scores, -1);
    const context = tf.reshape(tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]), [batch, length, H]);
    const attended = layerNorm(tf.add(dense3d(dense, `${p}.attention_output`, context, layer.dense.attention_output), h), layer.attentionNorm, eps);
    const inner = activation(dense3d(dense, `${p}.intermediate`, attended, layer.dense.intermediate), cfg.hidden_act);
    h = layerNorm(tf.add(dense3d(dense, `${p}.output`, inner, layer.dense.output), attended), layer.outputNorm, eps);
  });
  const lastHiddenState = h as tf.Tensor3D;
  if (!weights.pooler) return { lastHiddenState };
  const first = tf.reshape(tf.slice(lastHiddenState, [0, 0, 0], [batch, 1, H]), [batch, H]) as tf.Tensor2D;
  return { lastHiddenState, poolerOutput: tf.tanh(dense('pooler', first, weights.pooler)) };
}

const sharedModels = new Map<string, BertModel>();

/** Disposes the models `BertModel.shared` loaded (they are otherwise kept for the process). */
export function disposeSharedModels(): void {
  for (const m of sharedModels.values()) m.dispose();
  sharedModels.clear();
}

/** A frozen BERT loaded from a model directory. */
export class BertModel {
  disposed = false;

  constructor(
    readonly dir: string,
    readonly weights: BertWeights,
  ) {}

  static load(dir: string): BertModel {
    return new BertModel(dir, loadBertWeights(dir));
  }

  /**
   * The model of `dir` loaded once per process and shared (frozen weights are read-only), keyed
   * by the fingerprint of its files: experiments of one process (a benchmark's runs) reuse it
   * instead of holding one copy each.
   */
  static shared(dir: string, fingerprint: string): BertModel {
    const key = `${dir}\0${fingerprint}`;
    let model = sharedModels.get(key);
    if (!model || model.disposed) {
      model = BertModel.load(dir);
      sharedModels.set(key, model);
    }
    return model;
  }

  get config(): BertConfig {
    return this.weights.config;
  }

  /** Runs the model (frozen, or through `dense`); call inside `tf.tidy` or dispose the outputs. */
  forward(inputs: BertInputs, dense?: DenseFn): BertOutputs {
    if (this.disposed) throw new Error(`BERT model of ${this.dir} is disposed`);
    return bertForward(this.weights, inputs, dense);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose(weightTensors(this.weights));
  }
}
