import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  Experiment,
  kaimingUniform,
  keptCount,
  MaskedConv1d,
  resolveConfig,
  Rng,
  selectBackend,
  signedConstant,
  straightThroughMask,
  topKAbsMask,
  type ForwardContext,
} from '@supermask/core';
import { BertBackbone, clearMemoryCache, KimCnn, type TextDataset } from '@supermask/backbone-bert';
import { testRegistry } from '../../cli/test/helpers.js';

const TINY = fileURLToPath(new URL('./fixtures/tiny-bert', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'bert-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Two small corpora written with words of the tiny-bert vocabulary: "animals vs machines" and
 * "spam vs proverbs", 24 training and 8 test sentences per class.
 */
function writeCorpora(): void {
  const rng = new Rng(42);
  const fill = ['the', 'a', 'and', 'at', 'in', 'is', 'of'];
  const corpora = {
    topics: [
      ['quick', 'brown', 'fox', 'jumps', 'lazy', 'dog', 'over', 'ran'],
      ['masks', 'subnetwork', 'weights', 'filters', 'tasks', 'learning', 'runner', 'select'],
    ],
    mail: [
      ['spam', 'message', 'messages', 'saves', 'read', 'new', 'what', 'all'],
      ['time', 'stitch', 'nine', 'old', 'ones', 'stays', 'keeps', 'while'],
    ],
  };
  for (const [name, classes] of Object.entries(corpora)) {
    for (const [split, perClass] of [['train', 24], ['test', 8]] as const) {
      const lines: string[] = [];
      for (let i = 0; i < perClass; i++) {
        classes.forEach((words, label) => {
          const n = 4 + rng.int(3);
          const text = Array.from({ length: n }, (_, j) => (j % 2 === 1 ? fill[rng.int(fill.length)] : words[rng.int(words.length)])).join(' ');
          lines.push(JSON.stringify({ sentence: text, label: label === 0 ? 'first' : 'second' }));
        });
      }
      writeFileSync(join(dir, `${name}-${split}.jsonl`), `${lines.join('\n')}\n`);
    }
  }
}

const textFiles = (encoder: Record<string, unknown>) => ({
  id: 'text-files',
  options: {
    domains: ['topics', 'mail'].map((name) => ({
      name,
      train: join(dir, `${name}-train.jsonl`),
      test: join(dir, `${name}-test.jsonl`),
      columns: { text: 'sentence', label: 'label' },
    })),
    encoder: { model: TINY, max_length: 12, ...encoder },
  },
});

const strategy = (id: string, epochs = 6) => ({
  id,
  options: {
    mask_phase: { epochs, lr: 0.05, batch_size: 16 },
    ...(id === 'exssnet' ? { weight_phase: { epochs: 2, lr: 0.005, batch_size: 16 } } : {}),
  },
});

async function run(raw: Record<string, unknown>) {
  const registry = testRegistry();
  const config = resolveConfig({ seed: 0, backend: 'cpu', mask_scorer: { id: 'topk', options: { density: 0.3 } }, debug: { check_protected_weights: true }, ...raw }, registry);
  const experiment = await Experiment.create({ config, registry });
  try {
    const results = await experiment.run();
    return { results, experiment };
  } finally {
    experiment.dispose();
  }
}

describe('text variants train and evaluate (tiny-bert, a few dozen sentences per task)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
    writeCorpora();
  });

  for (const id of ['supsup', 'exssnet']) {
    it(`frozen BERT features + Kim-CNN with ${id}: forgetting 0, features computed once`, async () => {
      clearMemoryCache();
      const { results, experiment } = await run({
        dataset: textFiles({ output: 'features' }),
        stream: { id: 'text-domains', options: {} },
        backbone: { id: 'kim-cnn', options: { filters: 8 } },
        strategy: strategy(id),
      });
      expect(results.stream.input_shape).toEqual([12, 32]);
      expect(results.forgetting).toBe(0);
      expect(results.accuracy_matrix[1]![0]).toBe(results.accuracy_matrix[0]![0]);
      expect(results.average_accuracy).toBeGreaterThan(0.7);
      expect(results.backbone.layers).toHaveLength(4);
      // 2 tasks x (48 train + 16 test) texts, each through BERT exactly once (none repeats here).
      const stats = (experiment.dataset as TextDataset).encoder.stats;
      expect(stats.computed + stats.memoryHits).toBe(128);
      if (id === 'exssnet') expect((results.ownership as { total: unknown } | undefined)).toBeDefined();
    });

    it(`BERT with masks in the encoder with ${id}: forgetting 0, protected weights unchanged`, async () => {
      const { results, experiment } = await run({
        dataset: textFiles({ output: 'tokens' }),
        stream: { id: 'text-domains', options: {} },
        backbone: { id: 'bert', options: { mask_encoder: true, head: 'linear' } },
        strategy: strategy(id, 5),
      });
      const backbone = experiment.backbone as BertBackbone;
      // 2 layers x 6 dense + the head.
      expect(backbone.layers).toHaveLength(13);
      expect(results.stream.input_shape).toEqual([3, 12]);
      expect(results.forgetting).toBe(0);
      expect(results.accuracy_matrix[1]![0]).toBe(results.accuracy_matrix[0]![0]);
      expect(results.average_accuracy).toBeGreaterThan(0.6);
      expect(results.densities['bert.layer.0.query']).toBe(0.3);
    });
  }

  it('frozen BERT run inside the network with the Kim-CNN head (the uncached variant) learns what the cached one learns', async () => {
    const common = { stream: { id: 'text-domains', options: {} }, strategy: strategy('supsup', 4) };
    const cached = await run({ ...common, dataset: textFiles({ output: 'features', memory_cache_mb: 0 }), backbone: { id: 'kim-cnn', options: { filters: 8 } } });
    const inline = await run({ ...common, dataset: textFiles({ output: 'tokens' }), backbone: { id: 'bert', options: { mask_encoder: false, head: 'kim-cnn', filters: 8 } } });
    expect(inline.results.forgetting).toBe(0);
    expect(inline.results.backbone.layers).toHaveLength(4);
    // Same seed, same layer names: same weights, scores and batches; only where BERT runs differs.
    const flat = (m: (number | null)[][]) => m.flat().filter((v): v is number => v !== null);
    flat(inline.results.accuracy_matrix).forEach((a, i) => expect(Math.abs(a - flat(cached.results.accuracy_matrix)[i]!)).toBeLessThanOrEqual(1 / 16));
    expect(inline.results.tasks[0]!.phases[0]!.seconds).toBeGreaterThan(cached.results.tasks[0]!.phases[0]!.seconds);
  });

  it('backbones refuse the wrong encoder output, naming the option to change', async () => {
    await expect(
      run({ dataset: textFiles({ output: 'tokens' }), stream: { id: 'text-domains' }, backbone: { id: 'kim-cnn' }, strategy: strategy('supsup', 1) }),
    ).rejects.toThrow(/dataset\.options\.encoder\.output: set "features"/);
    await expect(
      run({ dataset: textFiles({ output: 'features' }), stream: { id: 'text-domains' }, backbone: { id: 'bert' }, strategy: strategy('supsup', 1) }),
    ).rejects.toThrow(ConfigError);
  });

  it('the local text stream runs end to end from the embedded subset with the shipped local-bert', async () => {
    const { results, experiment } = await run({
      dataset: { id: 'local-text', options: { encoder: { max_length: 24 } } },
      stream: { id: 'text-domains', options: { train_per_class: 6, test_per_class: 4 } },
      backbone: { id: 'kim-cnn', options: { filters: 4 } },
      strategy: strategy('supsup', 1),
    });
    expect(results.stream.tasks).toBe(3);
    expect(results.stream.num_classes).toBe(4);
    expect(results.stream.input_shape).toEqual([24, 64]);
    expect(results.forgetting).toBe(0);
    expect((experiment.dataset as TextDataset).domains.map((d) => d.name)).toEqual(['spam', 'sotu', 'fortunes']);
  });
});

describe('MaskedConv1d', () => {
  it('matches finite differences for input, weight and scores (straight-through)', async () => {
    await selectBackend('cpu');
    const rng = new Rng(5);
    const layer = new MaskedConv1d('conv', 3, 2, 3, 1, 'valid', signedConstant(3 * 3 * 2, 9, rng.child('w')));
    expect(layer.fanIn).toBe(9);
    expect(layer.shape).toEqual([3, 3, 2]);
    layer.density = 0.5;
    layer.addTask(0, kaimingUniform(layer.size, layer.fanIn, rng.child('s')));
    const maskOf = (v: Float32Array) => topKAbsMask(v, keptCount(v.length, 0.5));
    const xValues = rng.fillUniform(new Float32Array(2 * 6 * 3), -1, 1);
    const r = tf.tensor3d(rng.fillUniform(new Float32Array(2 * 4 * 2), -1, 1), [2, 4, 2]);
    const loss = (x: tf.Tensor, w: tf.Tensor) =>
      tf.tidy(() => layer.apply(x as tf.Tensor3D, { task: 0, training: false, weight: () => w } as ForwardContext).mul(r).square().sum().mul(0.5) as tf.Scalar);
    const x = tf.tensor3d(xValues, [2, 6, 3]);
    const S = layer.scores(0);
    const mask = tf.tensor(maskOf(S.dataSync() as Float32Array), layer.shape);
    const W = layer.weight;
    const gx = tf.grad((xx: tf.Tensor) => loss(xx, W.mul(mask)))(x).dataSync();
    const gs = tf.grad((s: tf.Tensor) => loss(x, W.mul(straightThroughMask(s, maskOf))))(S).dataSync();
    const h = 1e-2;
    const fd = (values: Float32Array, f: (v: Float32Array) => number) =>
      Array.from(values, (_, i) => {
        const p = Float32Array.from(values);
        const m = Float32Array.from(values);
        p[i] += h;
        m[i] -= h;
        return (f(p) - f(m)) / (2 * h);
      });
    const wEff = W.mul(mask);
    const fdx = fd(xValues, (v) => loss(tf.tensor3d(v, [2, 6, 3]), wEff).dataSync()[0]!);
    const m = mask.dataSync() as Float32Array;
    const s = S.dataSync() as Float32Array;
    const fdm = fd(m, (v) => loss(x, W.mul(tf.tensor(v, layer.shape))).dataSync()[0]!);
    fdx.forEach((g, i) => expect(Math.abs(gx[i]! - g)).toBeLessThan(2e-2));
    fdm.forEach((g, i) => expect(Math.abs(gs[i]! - Math.sign(s[i]!) * g)).toBeLessThan(2e-2));
    tf.dispose([x, mask, r, wEff]);
    layer.dispose();
  });

  it('Kim-CNN gives logits and pooled features of the right shapes', async () => {
    await selectBackend('cpu');
    const net = new KimCnn({ inputShape: [10, 8], numClasses: 3, numOutputs: 3 }, { filter_sizes: [3, 4, 5], filters: 6, weight_init: 'signed_constant' }, new Rng(1));
    const ctx: ForwardContext = { task: 0, training: false, weight: (l) => l.weight };
    const x = tf.randomNormal([2, 10, 8]);
    expect(net.forward(x, ctx).shape).toEqual([2, 3]);
    expect(net.features(x, ctx).shape).toEqual([2, 18]);
    expect(net.layers.map((l) => l.shape)).toEqual([[3, 8, 6], [4, 8, 6], [5, 8, 6], [18, 3]]);
    expect(() => new KimCnn({ inputShape: [4, 8], numClasses: 3, numOutputs: 3 }, { filter_sizes: [3, 5], filters: 2, weight_init: 'signed_constant' }, new Rng(1))).toThrow(/filter_sizes: 5 exceed the sequence length 4/);
    x.dispose();
    net.dispose();
  });
});
