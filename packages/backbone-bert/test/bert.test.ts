import * as tf from '@tensorflow/tfjs-core';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asFloat32, DataError, floatTensor, readSafetensors, selectBackend, writeSafetensors } from '@supermask/core';
import { BertModel, BertTextEncoder, loadTokenizer, resolveModelDir, tokenize } from '@supermask/backbone-bert';

const FIXTURE = fileURLToPath(new URL('./fixtures/tiny-bert', import.meta.url));
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as {
  texts: string[];
  max_length: number;
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  last_hidden_state: number[][][];
  pooler_output: number[][];
  tolerance: number;
};

function maxAbsDiff(got: ArrayLike<number>, want: readonly number[]): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  return worst;
}

function run(model: BertModel, ids: number[][], mask: number[][], types: number[][]) {
  return tf.tidy(() => {
    const out = model.forward({ inputIds: tf.tensor2d(ids, undefined, 'int32'), attentionMask: tf.tensor2d(mask, undefined, 'int32'), tokenTypeIds: tf.tensor2d(types, undefined, 'int32') });
    return { last: out.lastHiddenState.dataSync().slice(), pooled: out.poolerOutput!.dataSync().slice() };
  });
}

describe('tiny-bert fixture (Hugging Face equivalence)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('AutoTokenizer from the local directory gives the expected token ids, attention mask and token types', async () => {
    const tokenizer = await loadTokenizer(FIXTURE);
    const batch = tokenize(tokenizer, expected.texts, expected.max_length);
    expect(Array.from(batch.inputIds)).toEqual(expected.input_ids.flat());
    expect(Array.from(batch.attentionMask)).toEqual(expected.attention_mask.flat());
    expect(Array.from(batch.tokenTypeIds)).toEqual(expected.token_type_ids.flat());
  });

  it('last_hidden_state and pooler_output match within 1e-4', () => {
    const model = BertModel.load(FIXTURE);
    try {
      const { last, pooled } = run(model, expected.input_ids, expected.attention_mask, expected.token_type_ids);
      expect(maxAbsDiff(last, expected.last_hidden_state.flat(2))).toBeLessThan(1e-4);
      expect(maxAbsDiff(pooled, expected.pooler_output.flat())).toBeLessThan(1e-4);
    } finally {
      model.dispose();
    }
  });

  it('the encoder gives the same features, padded positions zeroed', async () => {
    const encoder = await BertTextEncoder.load({ model: FIXTURE, max_length: expected.max_length, output: 'features', memory_cache_mb: 0 });
    try {
      expect(encoder.outputShape).toEqual([expected.max_length, 32]);
      const features = encoder.encode(expected.texts);
      const want = expected.last_hidden_state.flatMap((rows, i) => rows.flatMap((row, t) => row.map((v) => (expected.attention_mask[i]![t] ? v : 0))));
      expect(maxAbsDiff(features, want)).toBeLessThan(1e-4);
      const tokens = (await BertTextEncoder.load({ model: FIXTURE, max_length: expected.max_length, output: 'tokens' })).encode(expected.texts);
      expect(Array.from(tokens.subarray(0, expected.max_length))).toEqual(expected.input_ids[0]);
      expect(Array.from(tokens.subarray(expected.max_length, 2 * expected.max_length))).toEqual(expected.attention_mask[0]);
    } finally {
      encoder.dispose();
    }
  });

  describe('F16 and BF16 checkpoints', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'bert-dtypes-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    for (const [dtype, tolerance] of [
      ['F16', 2e-2],
      ['BF16', 1.5e-1],
    ] as ['F16' | 'BF16', number][]) {
      it(`loads ${dtype} weights (converted to float32) with outputs close to the F32 ones`, () => {
        const target = join(dir, dtype);
        rmSync(target, { recursive: true, force: true });
        const { tensors } = readSafetensors(join(FIXTURE, 'model.safetensors'));
        mkdirSync(target, { recursive: true });
        copyFileSync(join(FIXTURE, 'config.json'), join(target, 'config.json'));
        writeSafetensors(join(target, 'model.safetensors'), Object.fromEntries([...tensors].map(([k, t]) => [k, floatTensor(dtype, t.shape, asFloat32(t))])));
        const back = readSafetensors(join(target, 'model.safetensors')).tensors;
        expect(back.get('pooler.dense.weight')!.dtype).toBe(dtype);
        const model = BertModel.load(target);
        try {
          const { last } = run(model, expected.input_ids, expected.attention_mask, expected.token_type_ids);
          expect(maxAbsDiff(last, expected.last_hidden_state.flat(2))).toBeLessThan(tolerance);
        } finally {
          model.dispose();
        }
      });
    }
  });
});

describe('missing or malformed model directory', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bert-bad-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const copyFixture = (name: string, skip: string[] = []): string => {
    const target = join(dir, name);
    mkdirSync(target, { recursive: true });
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']) {
      if (!skip.includes(f)) copyFileSync(join(FIXTURE, f), join(target, f));
    }
    return target;
  };

  it('a missing directory names it and says how to get the model', async () => {
    const missing = join(dir, 'nope', 'bert-base-uncased');
    await expect(BertTextEncoder.load({ model: missing })).rejects.toThrow(DataError);
    await expect(BertTextEncoder.load({ model: missing })).rejects.toThrow(missing);
    await expect(BertTextEncoder.load({ model: missing })).rejects.toThrow(/huggingface-cli download bert-base-uncased/);
    // A bare name lists every place searched.
    expect(() => resolveModelDir('no-such-model', { env: { SUPERMASK_MODELS: dir } })).toThrow(join(dir, 'no-such-model'));
  });

  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
    it(`a directory without ${file} names the missing file`, async () => {
      const target = copyFixture(`without-${file}`, [file]);
      const error = await BertTextEncoder.load({ model: target, output: 'features' }).then(
        (e) => {
          // Model files are checked when BERT is first used.
          try {
            e.model();
          } catch (err) {
            return err;
          }
          return undefined;
        },
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(DataError);
      expect((error as Error).message).toContain(file);
      expect((error as DataError).file).toBe(join(target, file));
    });
  }

  it('a malformed config.json is named', () => {
    const target = copyFixture('bad-config');
    writeFileSync(join(target, 'config.json'), '{ "hidden_size": 32,');
    expect(() => BertModel.load(target)).toThrow(join(target, 'config.json'));
    writeFileSync(join(target, 'config.json'), JSON.stringify({ model_type: 'bert', vocab_size: 70, num_hidden_layers: 2 }));
    expect(() => BertModel.load(target)).toThrow(/config\.json: hidden_size must be/);
  });

  it('a malformed tokenizer.json is named', async () => {
    const target = copyFixture('bad-tokenizer');
    writeFileSync(join(target, 'tokenizer.json'), '{"version": ');
    await expect(loadTokenizer(target)).rejects.toThrow(join(target, 'tokenizer.json'));
  });

  it('a truncated model.safetensors is named, as is a header that disagrees with the length', () => {
    const target = copyFixture('truncated');
    const file = join(target, 'model.safetensors');
    truncateSync(file, 50_000);
    expect(() => BertModel.load(target)).toThrow(DataError);
    expect(() => BertModel.load(target)).toThrow(file);
    truncateSync(file, 100);
    expect(() => BertModel.load(target)).toThrow(/the header claims \d+ bytes but the file has 92 after the length field \(truncated\?\)/);
    expect(() => BertModel.load(target)).toThrow(file);
  });

  it('a checkpoint whose shapes disagree with config.json names the tensor', () => {
    const target = copyFixture('shapes');
    const config = JSON.parse(readFileSync(join(target, 'config.json'), 'utf8'));
    writeFileSync(join(target, 'config.json'), JSON.stringify({ ...config, intermediate_size: 48 }));
    expect(() => BertModel.load(target)).toThrow(/intermediate\.dense\.weight" has shape \[64, 32\]/);
  });
});
