import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Experiment, fromFloat16, resolveConfig, Rng, toFloat16, type Backbone, type Observer, type PhaseInfo, type Task, type TransferContext } from '@supermask/core';
import { chooseSources, KnnKnowledgeTransfer, type KktOptions } from '@supermask/kkt';
import { testRegistry } from '../../cli/test/helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const options = (overrides: Partial<KktOptions> = {}): KktOptions => ({
  sample_fraction: 1,
  fit_fraction: 0.66,
  k: 1000,
  mode: 'best',
  score_precision: 'float32',
  batch_size: 1000,
  ...overrides,
});

/** A 2-class task of 100 balanced examples whose single input feature is the label. */
function labelledTask(index: number): Task {
  const n = 100;
  const y = Int32Array.from({ length: n }, (_, i) => i % 2);
  const x = Float32Array.from(y, (v) => v);
  return { index, name: `t${index}`, classes: [0, 1], inputShape: [1], train: { x, y, n }, test: { x, y, n } };
}

/**
 * A transfer context over a fake backbone: task j's features are `kinds[j]`: 'informative' (the
 * input itself, so k-NN is perfect) or 'constant' (all zeros: every neighbour ties, so k-NN with
 * k >= the fit set predicts the fit set's majority class, which is at or below chance on a
 * balanced task).
 */
function fakeContext(kinds: ('informative' | 'constant')[]) {
  const scores = kinds.map((_, j) => [Float32Array.from({ length: 4 }, (_, i) => j * 10 + i)]);
  const set: { task: number; scores: Float32Array[] }[] = [];
  const backbone = {
    features: (x: tf.Tensor, ctx: { task: number }) => (kinds[ctx.task] === 'informative' ? x.reshape([-1, 1]) : tf.zeros([x.shape[0]!, 1])),
  } as unknown as Backbone;
  const t = kinds.length;
  const ctx: TransferContext & { finish(k: KnnKnowledgeTransfer): KnnKnowledgeTransfer } = {
    finish: (k) => {
      kinds.forEach((_, j) => k.taskFinished(j, scores[j]!));
      return k;
    },
    task: labelledTask(t),
    earlier: kinds.map((_, j) => labelledTask(j)),
    backbone,
    rng: new Rng(1),
    fixedContext: (j) => ({ task: j, training: false, weight: (l) => l.weight }),
    scoresOf: (j) => scores[j]!.map((s) => Float32Array.from(s)),
    setScores: (task, s) => void set.push({ task, scores: s }),
  };
  return { ctx, set, scores };
}

describe('KKT', () => {
  it('copies the scores of the task whose features classify the new task best', async () => {
    const { ctx, set, scores } = fakeContext(['constant', 'informative', 'constant']);
    const record = await ctx.finish(new KnnKnowledgeTransfer(options({ k: 5 }))).beforeTask(ctx);
    expect((record!.knn_accuracy as number[])[1]).toBe(1);
    expect(record!.chosen).toEqual([1]);
    expect(set).toHaveLength(1);
    expect(set[0]!.task).toBe(3);
    expect(set[0]!.scores).toEqual(scores[1]);
  });

  it('transfers nothing when every earlier task is at chance (modes best and all)', async () => {
    for (const mode of ['best', 'all'] as const) {
      // Constant features and k >= the fit set: every query gets the fit set's majority class,
      // which on a balanced task is at or below chance on the held-out part.
      const { ctx, set } = fakeContext(['constant', 'constant']);
      const record = await ctx.finish(new KnnKnowledgeTransfer(options({ mode, k: 1000 }))).beforeTask(ctx);
      for (const a of record!.knn_accuracy as number[]) expect(a).toBeLessThanOrEqual(0.5);
      expect(record!.chosen).toEqual([]);
      expect(set).toHaveLength(0);
    }
  });

  it('chooses sources as each mode specifies', () => {
    expect(chooseSources([0.9, 0.5, 0.7], 0.5, 'best')).toEqual([0]);
    expect(chooseSources([0.5, 0.4], 0.5, 'best')).toEqual([]);
    expect(chooseSources([0.5, 0.4], 0.5, 'always')).toEqual([0]);
    expect(chooseSources([0.3, 0.45], 0.5, 'always')).toEqual([1]);
    expect(chooseSources([0.9, 0.5, 0.7], 0.5, 'all')).toEqual([0, 2]);
    expect(chooseSources([0.5, 0.2], 0.5, 'all')).toEqual([]);
    expect(chooseSources([0.8, 0.8], 0.5, 'best')).toEqual([0]);
  });

  it('mode always copies the best task even at chance; mode all averages the tasks above chance', async () => {
    const always = fakeContext(['constant', 'constant']);
    const record = await always.ctx.finish(new KnnKnowledgeTransfer(options({ mode: 'always', k: 1000 }))).beforeTask(always.ctx);
    expect(record!.chosen).toHaveLength(1);
    expect(always.set).toHaveLength(1);

    const all = fakeContext(['informative', 'informative']);
    const r = await all.ctx.finish(new KnnKnowledgeTransfer(options({ mode: 'all', k: 5 }))).beforeTask(all.ctx);
    expect(r!.chosen).toEqual([0, 1]);
    const expected = all.scores[0]![0]!.map((v, i) => (v + all.scores[1]![0]![i]!) / 2);
    expect(Array.from(all.set[0]!.scores[0]!)).toEqual(Array.from(expected));
  });

  it('saves and restores its kept scores (checkpoints)', async () => {
    for (const precision of ['float32', 'float16'] as const) {
      const f = fakeContext(['informative', 'constant']);
      const k = f.ctx.finish(new KnnKnowledgeTransfer(options({ score_precision: precision, k: 5 })));
      const restored = new KnnKnowledgeTransfer(options({ score_precision: precision, k: 5 }));
      restored.loadState(k.saveState());
      expect(restored.scoresOf(0)).toEqual(k.scoresOf(0));
      expect(restored.scoresOf(1)).toEqual(k.scoresOf(1));
      expect(restored.storedBytes).toBe(k.storedBytes);
    }
  });

  it('does nothing for the first task', async () => {
    const { ctx } = fakeContext([]);
    expect(await new KnnKnowledgeTransfer(options()).beforeTask(ctx)).toBeUndefined();
  });

  it('keeps earlier scores in float16 when asked, at half the bytes', async () => {
    const f32 = fakeContext(['informative']);
    const k32 = f32.ctx.finish(new KnnKnowledgeTransfer(options({ k: 5 })));
    await k32.beforeTask(f32.ctx);
    const f16 = fakeContext(['informative']);
    const k16 = f16.ctx.finish(new KnnKnowledgeTransfer(options({ score_precision: 'float16', k: 5 })));
    await k16.beforeTask(f16.ctx);
    expect(k16.storedBytes * 2).toBe(k32.storedBytes);
    expect(f16.set[0]!.scores[0]).toEqual(fromFloat16(toFloat16(f16.scores[0]![0]!)));
  });

  it('on a stream whose task 3 repeats task 1 with swapped labels, picks task 1 and starts from its scores', async () => {
    const registry = testRegistry();
    const config = resolveConfig(
      {
        name: 'kkt-copy',
        seed: 0,
        backend: 'cpu',
        dataset: { id: 'fashion-mnist' },
        // Shirt vs T-shirt, Bag vs Sneaker, then T-shirt vs Shirt (task 1 relabelled).
        stream: { id: 'class-groups', options: { task_classes: [[6, 0], [8, 7], [0, 6]], train_per_task: 600, test_per_task: 200 } },
        backbone: { id: 'lenet', options: { hidden: [100, 50] } },
        strategy: { id: 'supsup', options: { mask_phase: { epochs: 2, lr: 0.01, batch_size: 32 } } },
        mask_scorer: { id: 'topk', options: { density: 0.1 } },
        knowledge_transfer: { id: 'kkt', options: { sample_fraction: 0.5, k: 20 } },
      },
      registry,
    );
    let startScores: Float32Array | undefined;
    let task1Scores: Float32Array | undefined;
    let experiment: Experiment | undefined;
    const probe: Observer = {
      id: 'probe',
      beforePhase: (info: PhaseInfo) => {
        if (info.task.index === 2) startScores = experiment!.backbone.layers[0]!.masks.scoreValues(2);
      },
      afterPhase: (info: PhaseInfo) => {
        if (info.task.index === 0) task1Scores = experiment!.backbone.layers[0]!.masks.scoreValues(0);
      },
    };
    experiment = await Experiment.create({ config, registry, observers: [probe] });
    try {
      const results = await experiment.run();
      const transfer = results.tasks[2]!.transfer as { knn_accuracy: number[]; chosen: number[]; seconds: number };
      expect(transfer.chosen).toEqual([0]);
      expect(transfer.knn_accuracy[0]!).toBeGreaterThan(transfer.knn_accuracy[1]!);
      expect(transfer.seconds).toBeGreaterThan(0);
      expect(results.tasks[1]!.transfer).toBeDefined();
      expect(startScores).toEqual(task1Scores);
      expect(results.forgetting).toBe(0);
    } finally {
      experiment.dispose();
    }
  });
});
