import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { checkPluginManifests, Registry } from '@supermask/core';
import * as packnetPackage from '@supermask/strategy-packnet';
import { keptWeights, pruneLayer } from '@supermask/strategy-packnet';
import { blobsConfig, testRegistry } from '../../cli/test/helpers.js';
import { expectNothingForgotten, runRecorded, stopAndResume } from '../../cli/test/strategy-checks.js';

const registry = () => {
  const r = testRegistry();
  packnetPackage.register(r);
  return r;
};

const KEPT = 0.3;
const packnetConfig = (extra: Record<string, unknown> = {}) => {
  const { mask_scorer: _scorer, ...base } = blobsConfig();
  return {
    ...base,
    backbone: { id: 'lenet', options: { hidden: [32, 16], weight_init: 'kaiming_normal' } },
    strategy: {
      id: 'packnet',
      options: { kept_fraction: KEPT, train_phase: { epochs: 2, lr: 0.01, batch_size: 16 }, retrain_phase: { epochs: 2, lr: 0.01, batch_size: 16 } },
    },
    debug: { check_protected_weights: true },
    ...extra,
  };
};

const count = (m: Float32Array) => m.reduce((a, b) => a + (b !== 0 ? 1 : 0), 0);

describe('pruneLayer', () => {
  it('keeps the largest |w| among the free weights (ties by index), zeroes the other free ones, keeps used ones', () => {
    const weights = Float32Array.from([0.5, -0.9, 0.1, -0.3, 0.3, 2, 0.05, -0.7]);
    const used = Float32Array.from([0, 0, 0, 0, 0, 1, 0, 1]);
    const { mask, weights: out } = pruneLayer(weights, used, 3);
    // Free: 0.5, -0.9, 0.1, -0.3, 0.3, 0.05; the 3 largest |w|: -0.9, 0.5, then -0.3 (index 3) before 0.3 (index 4).
    expect(Array.from(mask)).toEqual([1, 1, 0, 1, 0, 1, 0, 1]);
    expect(Array.from(out)).toEqual(Array.from(Float32Array.from([0.5, -0.9, 0, -0.3, 0, 2, 0, -0.7])));
    expect(Array.from(pruneLayer(weights, used, 0).mask)).toEqual(Array.from(used));
  });

  it('keeps round(fraction * size) weights, at most the free ones', () => {
    expect(keptWeights(1000, 900, 0.05)).toBe(50);
    expect(keptWeights(1000, 30, 0.05)).toBe(30);
    expect(keptWeights(10, 10, 0.04)).toBe(0);
  });
});

describe('PackNet', () => {
  it('nests masks, keeps the kept fraction per task, forgets nothing (bit-exact), has no scores, leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    let hadScores: boolean | undefined;
    const { results, snapshots, sizes } = await runRecorded(registry(), packnetConfig(), [
      { id: 'scores', afterPhase: (info, run) => void (hadScores ||= run.backbone.layers.some((l) => l.masks.hasScores(info.task.index))) },
    ]);
    expect(tf.memory().numTensors).toBe(before);
    expect(results.config.mask_scorer.id).toBe('none');
    expect(results.config.ownership_policy.id).toBe('exclusive');
    expect(hadScores).toBe(false);
    expect(results.tasks[0]!.phases.map((p) => p.name)).toEqual(['weight', 'prune', 'weight']);
    expect(results.forgetting).toBe(0);
    expectNothingForgotten(snapshots);
    for (let j = 0; j < 3; j++) expect(results.accuracy_matrix[2]![j]!).toBeGreaterThan(0.8);
    const final = snapshots[2]!.masks;
    for (let t = 0; t < 3; t++) {
      final[t]!.forEach((m, li) => {
        // Task t's mask holds every weight of task t-1's plus round(KEPT * size) new ones.
        const previous = t > 0 ? final[t - 1]![li]! : new Float32Array(m.length);
        previous.forEach((p, i) => p !== 0 && expect(m[i]).toBe(1));
        expect(count(m) - count(previous)).toBe(Math.round(KEPT * sizes[li]!));
        // Right after task t, its pruned free weights are 0: every weight outside M_t is 0.
        const w = snapshots[t]!.weights[li]!;
        for (let i = 0; i < m.length; i++) if (m[i] === 0) expect(w[i]).toBe(0);
      });
    }
    const ownership = results.ownership as { capacity_used: number };
    expect(ownership.capacity_used).toBeCloseTo((3 * sizes.reduce((s, n) => s + Math.round(KEPT * n), 0)) / sizes.reduce((a, b) => a + b, 0), 12);
    expect(snapshots[2]!.tensors).toBe(snapshots[1]!.tensors);
  });

  it('resumes from a checkpoint to the same accuracy matrix', async () => {
    const { results } = await runRecorded(registry(), packnetConfig());
    const resumed = await stopAndResume(registry, packnetConfig(), 2);
    expect(resumed.accuracy_matrix).toEqual(results.accuracy_matrix);
  });

  it('refuses a mask scorer that gives tasks scores', async () => {
    await expect(runRecorded(registry(), packnetConfig({ mask_scorer: { id: 'topk' } }))).rejects.toThrow(/phase kind "prune" sets masks by magnitude: the mask scorer must be "none" \(strategy "packnet" gave task 1 scores\)/);
  });

  it('is a plugin: its manifest passes the checks and names exactly what register adds', () => {
    const manifests = checkPluginManifests(packnetPackage.manifest, '@supermask/strategy-packnet', 'plugins[0]');
    const r = new Registry();
    packnetPackage.register(r);
    for (const m of manifests) expect(r.has(m.kind, m.id)).toBe(true);
    expect(manifests.map((m) => `${m.kind}:${m.id}`)).toEqual(['phase:prune', 'strategy:packnet']);
  });
});
