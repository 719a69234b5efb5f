import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Experiment, resolveConfig, type Observer, type PhaseInfo, type Task } from '@supermask/core';
import { OwnershipPolicy } from '@supermask/strategy-exssnet';
import { blobsConfig, testRegistry } from '../../cli/test/helpers.js';

const exssnetConfig = (strategy: 'exssnet' | 'ssnet', extra: Record<string, unknown> = {}) =>
  blobsConfig({
    strategy: {
      id: strategy,
      options: {
        mask_phase: { epochs: 2, lr: 0.05, batch_size: 16 },
        weight_phase: { epochs: 2, batch_size: 16, lr: 0.01 },
      },
    },
    mask_scorer: { id: 'topk', options: { density: 0.3 } },
    ...extra,
  });

/** Records task 1's and task 2's test logits after each task, and weights around each weight phase. */
class Recorder implements Observer {
  readonly id = 'recorder';
  experiment!: Experiment;
  /** logits[j][i] = logits of task j's test batch after task i (flat values). */
  readonly logits: Float32Array[][] = [[], []];
  readonly phaseChecks: { task: number; changedOutsideEditable: number; changedInsideEditable: number; editable: number }[] = [];
  private before: Float32Array[] = [];
  private editable: Float32Array[] = [];

  beforePhase(info: PhaseInfo): void {
    if (info.phase.name !== 'weight') return;
    const layers = this.experiment.backbone.layers;
    this.before = layers.map((l) => Float32Array.from(l.weight.dataSync() as Float32Array));
    // E_t computed independently of the policy: mask of t minus the union of earlier masks.
    const t = info.task.index;
    this.editable = layers.map((l) => {
      const mask = l.masks.values(t);
      const out = Float32Array.from(mask);
      for (let j = 0; j < t; j++) {
        const earlier = l.masks.values(j);
        for (let i = 0; i < out.length; i++) if (earlier[i]) out[i] = 0;
      }
      return out;
    });
  }

  afterPhase(info: PhaseInfo): void {
    if (info.phase.name !== 'weight') return;
    let outside = 0;
    let inside = 0;
    let editable = 0;
    this.experiment.backbone.layers.forEach((l, li) => {
      const now = new Uint32Array(Float32Array.from(l.weight.dataSync() as Float32Array).buffer);
      const was = new Uint32Array(this.before[li]!.buffer);
      const e = this.editable[li]!;
      for (let i = 0; i < now.length; i++) {
        if (e[i]) editable++;
        if (now[i] !== was[i]) {
          if (e[i]) inside++;
          else outside++;
        }
      }
    });
    this.phaseChecks.push({ task: info.task.index, changedOutsideEditable: outside, changedInsideEditable: inside, editable });
  }

  afterTask({ task }: { task: Task }): void {
    for (const j of [0, 1]) {
      if (j > task.index) continue;
      const t = this.experiment.stream.tasks[j]!;
      const x = tf.tensor(t.test.x, [t.test.n, ...t.inputShape]);
      const logits = this.experiment.logits(x, j);
      this.logits[j]!.push(Float32Array.from(logits.dataSync() as Float32Array));
      tf.dispose([x, logits]);
    }
  }
}

async function run(strategy: 'exssnet' | 'ssnet', extra: Record<string, unknown> = {}) {
  const registry = testRegistry();
  const config = resolveConfig(exssnetConfig(strategy, extra), registry);
  const recorder = new Recorder();
  const experiment = await Experiment.create({ config, registry, observers: [recorder] });
  recorder.experiment = experiment;
  try {
    const results = await experiment.run();
    const owners = experiment.ownership instanceof OwnershipPolicy ? experiment.backbone.layers.map((_, i) => (experiment.ownership as OwnershipPolicy).owners(i)) : [];
    return { results, recorder, owners };
  } finally {
    experiment.dispose();
  }
}

describe('ExSSNeT', () => {
  it('preserves earlier tasks bit for bit and changes only exclusive weights', async () => {
    const { results, recorder } = await run('exssnet');
    // Task 1 logits after tasks 1, 2, 3 are identical value for value; task 2 after tasks 2, 3.
    expect(recorder.logits[0]).toHaveLength(3);
    expect(recorder.logits[0]![1]).toEqual(recorder.logits[0]![0]);
    expect(recorder.logits[0]![2]).toEqual(recorder.logits[0]![0]);
    expect(recorder.logits[1]![1]).toEqual(recorder.logits[1]![0]);
    expect(results.forgetting).toBe(0);
    // Every weight outside E_t is byte-identical across task t's weight phase; weights in E_t did train.
    expect(recorder.phaseChecks).toHaveLength(3);
    for (const check of recorder.phaseChecks) {
      expect(check.changedOutsideEditable).toBe(0);
      expect(check.changedInsideEditable).toBeGreaterThan(0.5 * check.editable);
    }
    expect(results.tasks[0]!.phases.map((p) => p.name)).toEqual(['mask', 'weight']);
    expect(results.tasks[0]!.phases[1]!.lr).toBe(0.01);
    for (let j = 0; j < 3; j++) expect(results.accuracy_matrix[2]![j]!).toBeGreaterThan(0.8);
  });

  it('with the overlap policy (SSNeT) earlier tasks do change', async () => {
    const { recorder, results } = await run('ssnet');
    expect(results.config.ownership_policy.id).toBe('overlap');
    expect(recorder.logits[0]![2]).not.toEqual(recorder.logits[0]![0]);
    const outside = recorder.phaseChecks.slice(1).reduce((s, c) => s + c.changedOutsideEditable, 0);
    expect(outside).toBeGreaterThan(0);
  });

  it('reports mask size, exclusive size, overlap and capacity consistently', async () => {
    const { results, owners } = await run('exssnet');
    const report = results.ownership as { tasks: any[]; owned_total: number; owned: Record<string, number>; capacity_used: number };
    const totalWeights = owners.reduce((s, o) => s + o.length, 0);
    // The sum over tasks of |E_t| is the number of owned weights, in total and per layer.
    expect(report.tasks.reduce((s, t) => s + t.total.exclusive_size, 0)).toBe(report.owned_total);
    const ownedCount = owners.reduce((s, o) => s + o.filter((v) => v >= 0).length, 0);
    expect(report.owned_total).toBe(ownedCount);
    for (const [li, name] of ['fc1', 'fc2', 'head'].entries()) {
      expect(report.tasks.reduce((s, t) => s + t.layers[li].exclusive_size, 0)).toBe(report.owned[name]);
    }
    expect(report.capacity_used).toBeCloseTo(ownedCount / totalWeights, 12);
    // Task 1 owns its whole mask; later tasks overlap earlier masks; sizes match the density.
    const first = report.tasks[0];
    expect(first.total.exclusive_size).toBe(first.total.mask_size);
    expect(first.total.overlap).toBe(0);
    expect(report.tasks[1].total.overlap).toBeGreaterThan(0);
    for (const t of report.tasks) {
      expect(t.total.overlap).toBeCloseTo(1 - t.total.exclusive_size / t.total.mask_size, 12);
      expect(t.layers[0].mask_size).toBe(Math.round(0.3 * 16 * 32));
    }
    // Per task in results.tasks as well.
    expect(results.tasks[2]!.ownership).toEqual(report.tasks[2]);
    // The owner of a weight is the first task whose mask uses it.
    expect(Math.max(...owners[0]!)).toBe(2);
  });

  it('debug mode checks protected weights after every step and passes for exclusive', async () => {
    const { results } = await run('exssnet', { debug: { check_protected_weights: true } });
    expect(results.forgetting).toBe(0);
  });

  it('debug mode stops the run when anything moves a protected weight', async () => {
    const registry = testRegistry();
    const config = resolveConfig(exssnetConfig('exssnet', { debug: { check_protected_weights: true } }), registry);
    let experiment: Experiment | undefined;
    // A saboteur stands for anything besides the masked gradient that could move a weight
    // (weight decay, reused optimiser state, a buggy plugin): it nudges one protected weight.
    const saboteur: Observer = {
      id: 'saboteur',
      beforeBatch: (info) => {
        if (!experiment || info.phase.name !== 'weight' || info.task.index !== 1 || info.batch !== 1) return;
        const layer = experiment.backbone.layers[0]!;
        const editable = experiment.ownership.editable(0, 1, layer.masks.values(1))!;
        const values = Float32Array.from(layer.weight.dataSync() as Float32Array);
        const protectedIndex = editable.findIndex((v) => v === 0);
        values[protectedIndex] = values[protectedIndex]! + 1;
        tf.tidy(() => layer.weight.assign(tf.tensor(values, layer.weight.shape)));
      },
    };
    experiment = await Experiment.create({ config, registry, observers: [saboteur] });
    try {
      await expect(experiment.run()).rejects.toThrow(/protected weight changed: layer fc1, index \d+, task 2, epoch 1, batch 2/);
    } finally {
      experiment.dispose();
    }
  });
});
