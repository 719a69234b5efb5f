/**
 * The feature step of the text pipeline: texts become the rows a task's `Split.x` holds.
 *
 * - `output: "features"` (the paper's model): frozen BERT's last hidden state, [maxLength, hidden]
 *   per text, padded positions set to 0. Computed once per text and cached (memory, and on disk
 *   when `cache_dir` is set), so training phases never run BERT.
 * - `output: "tokens"` (BERT inside the network): [3, maxLength] per text: row 0 the token ids,
 *   row 1 the attention mask (1 token, 0 padding), row 2 the token type ids.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@supermask/core';
import { BertModel } from './bert.js';
import { FeatureCache, setMemoryCacheLimit, type FeatureCacheStats } from './feature-cache.js';
import { modelFingerprint, readBertConfig, resolveModelDir, type BertConfig, type ModelLookup } from './model-dir.js';
import { loadTokenizer, tokenize, type HfTokenizer, type TokenBatch } from './tokenizer.js';
import { join } from 'node:path';

export type EncoderOutput = 'features' | 'tokens';

/** Options of the feature step (`encoder` of every text dataset). */
export interface EncoderOptions {
  /** A model directory path, or a name looked up in $SUPERMASK_MODELS, <--data-dir>/models, ~/.cache/supermask/models and the shipped models. */
  model: string;
  /** Tokens per text (truncated / padded). */
  max_length: number;
  output: EncoderOutput;
  /** Texts per BERT forward pass while computing features. */
  batch_size: number;
  /** Directory of the on-disk feature cache (features only); none when absent or null. */
  cache_dir?: string | null;
  /** Size limit of the process-wide memory cache in MiB (0: off). */
  memory_cache_mb: number;
}

export const ENCODER_DEFAULTS: EncoderOptions = { model: 'local-bert', max_length: 64, output: 'features', batch_size: 16, cache_dir: null, memory_cache_mb: 1024 };

/** JSON Schema of the `encoder` option, with the default model of the dataset it belongs to. */
export const encoderSchema = (defaultModel: string) => ({
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'The feature step: how texts become network inputs (frozen BERT features, or token ids for BERT inside the network)',
  properties: {
    model: {
      type: 'string',
      minLength: 1,
      default: defaultModel,
      description:
        'Hugging Face BERT directory (config.json, model.safetensors, tokenizer.json, tokenizer_config.json): a path, or a name searched in $SUPERMASK_MODELS, <--data-dir>/models, ~/.cache/supermask/models and the models shipped with @supermask/backbone-bert ("local-bert")',
    },
    max_length: { type: 'integer', minimum: 2, default: ENCODER_DEFAULTS.max_length, description: 'Tokens per text, [CLS] and [SEP] included (truncated or padded)' },
    output: {
      enum: ['features', 'tokens'],
      default: ENCODER_DEFAULTS.output,
      description: '"features": frozen BERT last hidden state [max_length, hidden] per text, computed once and cached (backbone kim-cnn); "tokens": [3, max_length] ids / attention mask / token types (backbone bert)',
    },
    batch_size: { type: 'integer', minimum: 1, default: ENCODER_DEFAULTS.batch_size, description: 'Texts per BERT forward pass while computing features' },
    cache_dir: { type: ['string', 'null'], default: null, description: 'Directory of the on-disk feature cache (keyed by model files, max length and text); null: memory only' },
    memory_cache_mb: { type: 'number', minimum: 0, default: ENCODER_DEFAULTS.memory_cache_mb, description: 'Size limit of the process-wide in-memory feature cache, MiB (0: off)' },
  },
});

/** Counters of the feature step. */
export interface EncoderStats extends FeatureCacheStats {
  /** Texts whose features BERT computed. */
  computed: number;
  /** Seconds spent in BERT (feature computation only). */
  bertSeconds: number;
}

/** Tokeniser + (lazily loaded) frozen BERT + feature cache of one model directory. */
export class BertTextEncoder {
  private bert: BertModel | undefined;
  private readonly cache: FeatureCache | undefined;
  private computed = 0;
  private bertSeconds = 0;

  private constructor(
    readonly dir: string,
    readonly config: BertConfig,
    readonly tokenizer: HfTokenizer,
    readonly options: EncoderOptions,
    readonly fingerprint: string,
  ) {
    if (options.output === 'features') {
      this.cache = new FeatureCache({
        model: fingerprint,
        maxLength: options.max_length,
        entrySize: options.max_length * config.hidden_size,
        ...(options.cache_dir ? { dir: options.cache_dir } : {}),
        memory: options.memory_cache_mb > 0,
      });
    }
  }

  /** Finds the model directory, checks its files, loads config and tokenizer (BERT itself is loaded on first use). */
  static async load(options: Partial<EncoderOptions> & { model: string }, lookup: ModelLookup = {}): Promise<BertTextEncoder> {
    const full: EncoderOptions = { ...ENCODER_DEFAULTS, ...options };
    const dir = resolveModelDir(full.model, lookup);
    const config = readBertConfig(join(dir, 'config.json'));
    if (full.max_length > config.max_position_embeddings) {
      throw new Error(`encoder.max_length ${full.max_length} exceeds max_position_embeddings ${config.max_position_embeddings} of ${join(dir, 'config.json')}`);
    }
    const tokenizer = await loadTokenizer(dir);
    if (full.output === 'features') setMemoryCacheLimit(full.memory_cache_mb * 1024 * 1024);
    return new BertTextEncoder(dir, config, tokenizer, full, modelFingerprint(dir));
  }

  get maxLength(): number {
    return this.options.max_length;
  }

  get output(): EncoderOutput {
    return this.options.output;
  }

  /** Shape of one encoded text. */
  get outputShape(): number[] {
    return this.options.output === 'features' ? [this.maxLength, this.config.hidden_size] : [3, this.maxLength];
  }

  /** Values per encoded text. */
  get rowSize(): number {
    return this.outputShape[0]! * this.outputShape[1]!;
  }

  get stats(): EncoderStats {
    const c = this.cache?.stats ?? { memoryHits: 0, diskHits: 0, misses: 0, writes: 0 };
    return { ...c, computed: this.computed, bertSeconds: this.bertSeconds };
  }

  /** The frozen BERT of the directory (loaded on first call; shared by the encoders of the process, see `BertModel.shared`). */
  model(): BertModel {
    this.bert ??= BertModel.shared(this.dir, this.fingerprint);
    return this.bert;
  }

  tokenize(texts: readonly string[], pairs?: readonly (string | undefined)[]): TokenBatch {
    return tokenize(this.tokenizer, texts, this.maxLength, pairs);
  }

  /** Encodes texts as this encoder's output: n rows of `rowSize` values. */
  encode(texts: readonly string[], pairs?: readonly (string | undefined)[]): Float32Array {
    return this.options.output === 'features' ? this.features(texts, pairs) : this.tokens(texts, pairs);
  }

  /** [n, 3, maxLength]: ids, attention mask, token types (as float32). */
  tokens(texts: readonly string[], pairs?: readonly (string | undefined)[]): Float32Array {
    return tokenRows(this.tokenize(texts, pairs));
  }

  /**
   * [n, maxLength, hidden] frozen-BERT features, padded positions 0. Cached texts are not
   * recomputed; the others go through BERT in batches of `batch_size` and into the cache.
   */
  features(texts: readonly string[], pairs?: readonly (string | undefined)[]): Float32Array {
    const n = texts.length;
    const size = this.maxLength * this.config.hidden_size;
    const out = new Float32Array(n * size);
    const keys: string[] = [];
    const missing: number[] = [];
    for (let i = 0; i < n; i++) {
      const key = this.cache ? this.cache.key(texts[i]!, pairs?.[i]) : '';
      keys.push(key);
      const hit = this.cache?.get(key);
      if (hit) out.set(hit, i * size);
      else missing.push(i);
    }
    const bs = this.options.batch_size;
    for (let start = 0; start < missing.length; start += bs) {
      const rows = missing.slice(start, start + bs);
      const batch = this.tokenize(
        rows.map((i) => texts[i]!),
        pairs ? rows.map((i) => pairs[i]) : undefined,
      );
      const values = this.featuresOfTokens(batch);
      rows.forEach((row, j) => {
        const entry = values.slice(j * size, (j + 1) * size);
        out.set(entry, row * size);
        this.cache?.set(keys[row]!, entry);
      });
    }
    return out;
  }

  /** Runs frozen BERT on a token batch: [n, maxLength, hidden], padded positions 0 (no cache). */
  featuresOfTokens(batch: TokenBatch): Float32Array {
    assertSyncReads('the frozen BERT feature encoder');
    const started = performance.now();
    const model = this.model();
    const { n, length } = batch;
    const values = tf.tidy(() => {
      const mask = tf.tensor2d(batch.attentionMask, [n, length], 'int32');
      const { lastHiddenState } = model.forward({
        inputIds: tf.tensor2d(batch.inputIds, [n, length], 'int32'),
        attentionMask: mask,
        tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, [n, length], 'int32'),
      });
      return lastHiddenState.mul(mask.toFloat().expandDims(2)).dataSync() as Float32Array;
    });
    this.computed += n;
    this.bertSeconds += (performance.now() - started) / 1000;
    return Float32Array.from(values);
  }

  /** Drops this encoder's reference to the shared model (`disposeSharedModels` frees the tensors). */
  dispose(): void {
    this.bert = undefined;
  }
}

/** A token batch as [n, 3, length] float rows (ids, attention mask, token types). */
export function tokenRows(batch: TokenBatch): Float32Array {
  const { n, length } = batch;
  const out = new Float32Array(n * 3 * length);
  for (let i = 0; i < n; i++) {
    const base = i * 3 * length;
    for (let j = 0; j < length; j++) {
      out[base + j] = batch.inputIds[i * length + j]!;
      out[base + length + j] = batch.attentionMask[i * length + j]!;
      out[base + 2 * length + j] = batch.tokenTypeIds[i * length + j]!;
    }
  }
  return out;
}

/**
 * The BERT text path reads tensors synchronously (features into the cache, encoder weights into
 * masked layers); tfjs's webgpu backend in Node cannot (`dataSync` needs an OffscreenCanvas).
 * Until that path is asynchronous, webgpu gets a plain error instead of a crash.
 */
export function assertSyncReads(what: string): void {
  if (tf.getBackend() === 'webgpu') {
    throw new ConfigError(`${what} runs on the cpu backends only for now: it reads tensors synchronously, which the webgpu backend cannot; use --backend cpu (or auto without a GPU)`, ['backend: webgpu']);
  }
}
