/**
 * A Hugging Face BERT model directory: where it is looked up, which files it must hold, its
 * `config.json`, and a fingerprint of its files (the key of the feature cache). Nothing is ever
 * downloaded: a missing directory or file is a `DataError` that names it and says where to put it.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError } from '@supermask/core';

/** Files a model directory must hold: the weights and config, and the tokenizer's files. */
export const MODEL_FILES = ['config.json', 'model.safetensors'] as const;
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'] as const;

/** Environment variable naming a directory of model directories. */
export const MODELS_ENV_VAR = 'SUPERMASK_MODELS';

/** Folder of the models shipped in this package (`local-bert`), beside `src/` and `dist/`. */
export const EMBEDDED_MODELS_DIR: string = fileURLToPath(new URL('../models', import.meta.url));

/** How to get bert-base-uncased (shown when a model directory is missing). */
export const HOW_TO_GET_BERT = [
  'on a machine with network access, download the Hugging Face files of the model, e.g. for bert-base-uncased:',
  '  `huggingface-cli download bert-base-uncased config.json model.safetensors tokenizer.json tokenizer_config.json vocab.txt --local-dir bert-base-uncased`',
  '  (or `git clone https://huggingface.co/bert-base-uncased`, with git-lfs)',
  `then copy that directory here and name it by path (encoder.model: "/path/to/bert-base-uncased"), or put it into $${MODELS_ENV_VAR}, <--data-dir>/models or ~/.cache/supermask/models and name it "bert-base-uncased"`,
];

/** Where a model name is looked up. */
export interface ModelLookup {
  /** `--data-dir` of the run: `<dataDir>/models/<name>` and `<dataDir>/<name>` are searched. */
  dataDir?: string;
  /** Environment consulted for SUPERMASK_MODELS (default: process.env). */
  env?: Record<string, string | undefined>;
}

/** The directories searched for a model named `name` (a path is taken as is). */
export function modelSearchPlaces(name: string, lookup: ModelLookup = {}): string[] {
  if (isAbsolute(name) || name.startsWith('.') || name.includes('/') || name.includes('\\')) return [resolve(name)];
  const env = lookup.env ?? process.env;
  const places: string[] = [];
  if (env[MODELS_ENV_VAR]) places.push(join(resolve(env[MODELS_ENV_VAR]!), name));
  if (lookup.dataDir) places.push(join(resolve(lookup.dataDir), 'models', name), join(resolve(lookup.dataDir), name));
  places.push(join(homedir(), '.cache', 'supermask', 'models', name));
  places.push(join(EMBEDDED_MODELS_DIR, name));
  return places;
}

/**
 * The directory of model `name` (a path, or a name searched in $SUPERMASK_MODELS, --data-dir,
 * ~/.cache/supermask/models and the models shipped here), checked to hold `files`.
 */
export function resolveModelDir(name: string, lookup: ModelLookup = {}, files: readonly string[] = [...MODEL_FILES, ...TOKENIZER_FILES]): string {
  const places = modelSearchPlaces(name, lookup);
  const dir = places.find((p) => existsSync(p) && statSync(p).isDirectory());
  if (!dir) {
    throw new DataError(
      [`model "${name}" not found: no directory at ${places.length === 1 ? places[0] : `any of\n  ${places.join('\n  ')}`}`, 'To get it:', ...HOW_TO_GET_BERT.map((l) => `  ${l}`)].join('\n'),
      places[0],
    );
  }
  checkModelFiles(dir, files);
  return dir;
}

/** Throws a `DataError` naming the first of `files` missing from `dir`, and where it goes. */
export function checkModelFiles(dir: string, files: readonly string[] = [...MODEL_FILES, ...TOKENIZER_FILES]): void {
  const missing = files.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    throw new DataError(
      `model directory ${dir} is missing ${missing.join(', ')} (a Hugging Face BERT directory holds ${[...MODEL_FILES, ...TOKENIZER_FILES].join(', ')}); ` +
        `put ${missing.length === 1 ? 'that file' : 'those files'} from the model's Hugging Face repository into ${dir}`,
      join(dir, missing[0]!),
    );
  }
}

/** The fields of a BERT `config.json` this implementation uses. */
export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'relu';
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  pad_token_id: number;
  model_type?: string;
  position_embedding_type?: string;
}

const ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu'];

/** Reads and validates `config.json` (errors name the file and the field). */
export function readBertConfig(file: string): BertConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataError(code === 'ENOENT' ? `${file} does not exist` : `${file} is not valid JSON: ${(error as Error).message}`, file);
  }
  return validateBertConfig(raw, file);
}

/** Checks a parsed config object; `file` names it in errors. */
export function validateBertConfig(raw: Record<string, unknown>, file = 'config.json'): BertConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new DataError(`${file}: expected a JSON object`, file);
  if (raw.model_type !== undefined && raw.model_type !== 'bert') {
    throw new DataError(`${file}: model_type is ${JSON.stringify(raw.model_type)}; this loader reads BERT checkpoints (model_type "bert")`, file);
  }
  const int = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new DataError(`${file}: ${key} must be a non-negative integer, got ${JSON.stringify(raw[key])}`, file);
    return v;
  };
  const cfg: BertConfig = {
    vocab_size: int('vocab_size'),
    hidden_size: int('hidden_size'),
    num_hidden_layers: int('num_hidden_layers'),
    num_attention_heads: int('num_attention_heads'),
    intermediate_size: int('intermediate_size'),
    hidden_act: (raw.hidden_act ?? 'gelu') as BertConfig['hidden_act'],
    max_position_embeddings: int('max_position_embeddings', 512),
    type_vocab_size: int('type_vocab_size', 2),
    layer_norm_eps: typeof raw.layer_norm_eps === 'number' ? raw.layer_norm_eps : 1e-12,
    pad_token_id: int('pad_token_id', 0),
    ...(typeof raw.model_type === 'string' ? { model_type: raw.model_type } : {}),
    ...(typeof raw.position_embedding_type === 'string' ? { position_embedding_type: raw.position_embedding_type } : {}),
  };
  if (!ACTIVATIONS.includes(cfg.hidden_act)) throw new DataError(`${file}: hidden_act ${JSON.stringify(raw.hidden_act)} is not supported (supported: ${ACTIVATIONS.join(', ')})`, file);
  if (cfg.position_embedding_type !== undefined && cfg.position_embedding_type !== 'absolute') {
    throw new DataError(`${file}: position_embedding_type ${JSON.stringify(cfg.position_embedding_type)} is not supported (only "absolute")`, file);
  }
  if (cfg.hidden_size === 0 || cfg.num_attention_heads === 0 || cfg.hidden_size % cfg.num_attention_heads !== 0) {
    throw new DataError(`${file}: hidden_size (${cfg.hidden_size}) must be a positive multiple of num_attention_heads (${cfg.num_attention_heads})`, file);
  }
  return cfg;
}

const fingerprints = new Map<string, string>();

/**
 * SHA-256 of the files that decide a model's features (config.json, model.safetensors,
 * tokenizer.json, tokenizer_config.json), hex. Remembered per path, size and mtime, so a large
 * checkpoint is hashed once per process.
 */
export function modelFingerprint(dir: string): string {
  const files = [...MODEL_FILES, ...TOKENIZER_FILES].map((f) => join(dir, f)).filter((f) => existsSync(f));
  const stamp = files.map((f) => {
    const s = statSync(f);
    return `${f}:${s.size}:${s.mtimeMs}`;
  }).join('|');
  const known = fingerprints.get(stamp);
  if (known) return known;
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(1 << 22);
  for (const f of files) {
    hash.update(`${f.slice(dir.length)}\0`);
    const fd = openSync(f, 'r');
    try {
      for (;;) {
        const n = readSync(fd, chunk, 0, chunk.length, null);
        if (n <= 0) break;
        hash.update(chunk.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
  }
  const digest = hash.digest('hex');
  fingerprints.set(stamp, digest);
  return digest;
}
