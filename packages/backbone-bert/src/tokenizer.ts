/**
 * Tokenisation with `AutoTokenizer` of @huggingface/transformers, from the model's own directory
 * with remote loading switched off (`env.allowRemoteModels = false`): nothing is downloaded. The
 * files are checked first, so a missing or malformed tokenizer.json / tokenizer_config.json gives
 * an error naming the file rather than the library's generic one.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { DataError } from '@supermask/core';
import { checkModelFiles, TOKENIZER_FILES } from './model-dir.js';

/** What this package uses of a transformers.js tokenizer. */
export interface HfTokenizer {
  (texts: string | string[], options?: Record<string, unknown>): Record<string, { data: ArrayLike<number | bigint>; dims: number[] }>;
  pad_token_id?: number | null;
  constructor: { name: string };
}

/** Token ids of a batch, each row padded (or truncated) to `length`. */
export interface TokenBatch {
  n: number;
  length: number;
  /** n * length token ids. */
  inputIds: Int32Array;
  /** n * length: 1 for tokens, 0 for padding. */
  attentionMask: Int32Array;
  /** n * length segment ids (0 for the first text, 1 for the second of a pair). */
  tokenTypeIds: Int32Array;
}

function checkJson(file: string): void {
  try {
    JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new DataError(`${file} is not valid JSON: ${(error as Error).message}`, file);
  }
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Loads the tokenizer of a local model directory with `AutoTokenizer.from_pretrained`, remote
 * loading off. Loads are serialised: transformers.js's `env.localModelPath` is global.
 */
export async function loadTokenizer(dir: string): Promise<HfTokenizer> {
  checkModelFiles(dir, TOKENIZER_FILES);
  for (const f of TOKENIZER_FILES) checkJson(join(dir, f));
  const run = async (): Promise<HfTokenizer> => {
    const { AutoTokenizer, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    const previous = env.localModelPath;
    env.localModelPath = dirname(dir) + sep;
    try {
      return (await AutoTokenizer.from_pretrained(basename(dir), { local_files_only: true })) as unknown as HfTokenizer;
    } catch (error) {
      throw new DataError(`cannot load the tokenizer of ${dir} (tokenizer.json, tokenizer_config.json): ${(error as Error).message}`, join(dir, 'tokenizer.json'));
    } finally {
      env.localModelPath = previous;
    }
  };
  const result = queue.then(run, run);
  queue = result.catch(() => undefined);
  return result;
}

function toInt32(data: ArrayLike<number | bigint>): Int32Array {
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  return out;
}

/**
 * Tokenises `texts` (and, for sentence pairs, `pairs`) to exactly `length` tokens each: [CLS]
 * text [SEP] (text_b [SEP]), truncated, padded with the pad token. Works in chunks of `chunk`.
 */
export function tokenize(tokenizer: HfTokenizer, texts: readonly string[], length: number, pairs?: readonly (string | undefined)[], chunk = 256): TokenBatch {
  const n = texts.length;
  const out: TokenBatch = {
    n,
    length,
    inputIds: new Int32Array(n * length),
    attentionMask: new Int32Array(n * length),
    tokenTypeIds: new Int32Array(n * length),
  };
  for (let start = 0; start < n; start += chunk) {
    const end = Math.min(n, start + chunk);
    const batchTexts = texts.slice(start, end);
    const batchPairs = pairs?.slice(start, end);
    const hasPairs = batchPairs !== undefined && batchPairs.some((p) => p !== undefined);
    const encoded = tokenizer(batchTexts as string[], {
      padding: 'max_length',
      truncation: true,
      max_length: length,
      ...(hasPairs ? { text_pair: batchPairs!.map((p) => p ?? '') } : {}),
    });
    const ids = encoded.input_ids!;
    if (ids.dims[1] !== length) throw new Error(`tokenizer returned rows of ${ids.dims[1]} tokens, expected ${length}`);
    out.inputIds.set(toInt32(ids.data), start * length);
    out.attentionMask.set(toInt32(encoded.attention_mask!.data), start * length);
    if (encoded.token_type_ids) out.tokenTypeIds.set(toInt32(encoded.token_type_ids.data), start * length);
  }
  return out;
}
