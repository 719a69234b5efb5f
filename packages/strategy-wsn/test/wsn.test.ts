import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { checkPluginManifests, Experiment, Registry, resolveConfig, type Observer } from '@supermask/core';
import * as wsnPackage from '@supermask/strategy-wsn';
import { blobsConfig, testRegistry } from '../../cli/test/helpers.js';
import { changed, expectNothingForgotten, runRecorded, stopAndResume } from '../../cli/test/strategy-checks.js';

const registry = () => {
  const r = testRegistry();
  wsnPackage.register(r);
  return r;
};

const wsnConfig = (extra: Record<string, unknown> = {}) =>
  blobsConfig({
    backbone: { id: 'lenet', options: { hidden: [32, 16], weight_init: 'kaiming_normal' } },
    strategy: { id: 'wsn', options: { phase: { epochs: 3, lr: 0.01, batch_size: 16 } } },
    mask_scorer: { id: 'topk', options: { density: 0.3 } },
    debug: { check_protected_weights: true },
    ...extra,
  });

describe('WSN', () => {
  it('trains scores and free weights together, forgets nothing (bit-exact) and leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    const { results, snapshots, sizes } = await runRecorded(registry(), wsnConfig());
    expect(tf.memory().numTensors).toBe(before);
    expect(results.config.ownership_policy.id).toBe('exclusive');
    expect(results.tasks[0]!.phases.map((p) => p.name)).toEqual(['wsn']);
    expect(results.forgetting).toBe(0);
    expectNothingForgotten(snapshots);
    for (let j = 0; j < 3; j++) expect(results.accuracy_matrix[2]![j]!).toBeGreaterThan(0.8);
    // Masks keep the top 30% of every layer; free weights inside task t's final mask trained (a free
    // weight that was in the mask at some step moved too, as in the paper: it stays free for later tasks).
    snapshots.forEach((s, t) => s.masks[t]!.forEach((m, li) => expect(m.reduce((a, b) => a + b, 0)).toBe(Math.round(0.3 * sizes[li]!))));
    for (let t = 1; t < 3; t++) {
      snapshots[t]!.weights.forEach((w, li) => {
        const mask = snapshots[t]!.masks[t]![li]!;
        expect(changed(w, snapshots[t - 1]!.weights[li]!, (i) => mask[i] !== 0)).toBeGreaterThan(0);
      });
    }
    // Tensors held by the run do not grow with the tasks.
    expect(snapshots[2]!.tensors).toBe(snapshots[1]!.tensors);
  });

  it('resumes from a checkpoint to the same accuracy matrix', async () => {
    const { results } = await runRecorded(registry(), wsnConfig());
    const resumed = await stopAndResume(registry, wsnConfig(), 2);
    expect(resumed.accuracy_matrix).toEqual(results.accuracy_matrix);
  });

  it('runs with the protected-weights guard: a moved protected weight stops the run', async () => {
    const r = registry();
    let experiment: Experiment | undefined;
    const saboteur: Observer = {
      id: 'saboteur',
      beforeBatch: (info) => {
        if (info.task.index !== 1 || info.batch !== 1 || info.epoch !== 0) return;
        const layer = experiment!.backbone.layers[0]!;
        const used = layer.masks.values(0);
        const values = Float32Array.from(layer.weight.dataSync() as Float32Array);
        const i = used.findIndex((v) => v !== 0);
        values[i] = values[i]! + 1;
        tf.tidy(() => layer.weight.assign(tf.tensor(values, layer.weight.shape)));
      },
    };
    experiment = await Experiment.create({ config: resolveConfig(wsnConfig(), r), registry: r, observers: [saboteur] });
    try {
      await expect(experiment.run()).rejects.toThrow(/protected weight changed: layer fc1, index \d+, task 2, epoch 1, batch 2/);
    } finally {
      experiment.dispose();
    }
  });

  it('refuses an ownership policy that freezes every weight', async () => {
    await expect(runRecorded(registry(), wsnConfig({ ownership_policy: { id: 'frozen' } }))).rejects.toThrow(/phase kind "wsn", which trains weights, but ownership policy "frozen"/);
  });

  it('composes with KKT: task 3 (task 1 relabelled) starts from task 1 scores, nothing forgotten', async () => {
    let startScores: Float32Array | undefined;
    let task1Scores: Float32Array | undefined;
    let experiment: Experiment | undefined;
    const probe: Observer = {
      id: 'probe',
      beforePhase: (info) => void (info.task.index === 2 && (startScores = experiment!.backbone.layers[0]!.masks.scoreValues(2))),
      afterPhase: (info) => void (info.task.index === 0 && (task1Scores = experiment!.backbone.layers[0]!.masks.scoreValues(0))),
    };
    const r = registry();
    const config = resolveConfig(
      {
        name: 'wsn-kkt',
        seed: 0,
        backend: 'cpu',
        dataset: { id: 'fashion-mnist' },
        // Shirt vs T-shirt, Bag vs Sneaker, then T-shirt vs Shirt (task 1 relabelled).
        stream: { id: 'class-groups', options: { task_classes: [[6, 0], [8, 7], [0, 6]], train_per_task: 300, test_per_task: 100 } },
        backbone: { id: 'lenet', options: { hidden: [64, 32], weight_init: 'kaiming_normal' } },
        strategy: { id: 'wsn', options: { phase: { epochs: 2, lr: 0.005, batch_size: 32 } } },
        mask_scorer: { id: 'topk', options: { density: 0.1 } },
        knowledge_transfer: { id: 'kkt', options: { sample_fraction: 0.5, k: 20 } },
        debug: { check_protected_weights: true },
      },
      r,
    );
    experiment = await Experiment.create({ config, registry: r, observers: [probe] });
    try {
      const results = await experiment.run();
      expect((results.tasks[2]!.transfer as { chosen: number[] }).chosen).toEqual([0]);
      expect(startScores).toEqual(task1Scores);
      expect(results.forgetting).toBe(0);
      expect(results.accuracy_matrix[2]![2]!).toBeGreaterThan(0.7);
    } finally {
      experiment.dispose();
    }
  });

  it('is a plugin: its manifest passes the checks and names exactly what register adds', () => {
    const manifests = checkPluginManifests(wsnPackage.manifest, '@supermask/strategy-wsn', 'plugins[0]');
    const r = new Registry();
    wsnPackage.register(r);
    for (const m of manifests) expect(r.has(m.kind, m.id)).toBe(true);
    expect(manifests.map((m) => `${m.kind}:${m.id}`)).toEqual(['phase:wsn', 'strategy:wsn']);
  });
});
