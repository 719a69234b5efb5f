import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { Experiment, resolveConfig, type ExperimentResults, type Observer, type Registry, type RunView, type Task } from '@supermask/core';

/** What a run looked like right after task t: logits of tasks 0..t's test sets, weights, masks of tasks 0..t. */
export interface TaskSnapshot {
  logits: Float32Array[];
  weights: Float32Array[];
  masks: Float32Array[][];
  tensors: number;
}

/** Records a TaskSnapshot after every task (logits through `Experiment.logits`, masks through the run's view). */
export class TaskRecorder implements Observer {
  readonly id = 'task-recorder';
  experiment!: Experiment;
  readonly snapshots: TaskSnapshot[] = [];

  afterTask({ task }: { task: Task }, run: RunView): void {
    const logits = run.stream.tasks.slice(0, task.index + 1).map((t, j) => {
      const x = tf.tensor(t.test.x, [t.test.n, ...t.inputShape]);
      const out = this.experiment.logits(x, j);
      const values = Float32Array.from(out.dataSync() as Float32Array);
      tf.dispose([x, out]);
      return values;
    });
    this.snapshots.push({
      logits,
      weights: run.backbone.layers.map((l) => Float32Array.from(l.weight.dataSync() as Float32Array)),
      masks: Array.from({ length: task.index + 1 }, (_, j) => run.masks(j)),
      tensors: tf.memory().numTensors,
    });
  }
}

/** Runs `raw` to the end with a TaskRecorder (and `observers`); the experiment is disposed after `inspect`. */
export async function runRecorded(registry: Registry, raw: Record<string, unknown>, observers: Observer[] = []) {
  const recorder = new TaskRecorder();
  const experiment = await Experiment.create({ config: resolveConfig(raw, registry), registry, observers: [recorder, ...observers] });
  recorder.experiment = experiment;
  try {
    const results = await experiment.run();
    return { results, snapshots: recorder.snapshots, sizes: experiment.backbone.layers.map((l) => l.size) };
  } finally {
    experiment.dispose();
  }
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/**
 * Forgetting exactly 0: each task's test logits after every later task are bit for bit those right
 * after it was learned, and every weight in the union of tasks 0..j's masks is bit for bit the same
 * from the end of task j on (weights that earlier tasks use never move again).
 */
export function expectNothingForgotten(snapshots: readonly TaskSnapshot[]): void {
  for (let j = 0; j < snapshots.length; j++) {
    const used = snapshots[j]!.masks.reduce((acc, layerMasks) => acc.map((u, li) => u.map((v, i) => (v || layerMasks[li]![i] ? 1 : 0))), snapshots[j]!.weights.map((w) => new Uint8Array(w.length)));
    for (let i = j + 1; i < snapshots.length; i++) {
      expect(bits(snapshots[i]!.logits[j]!).equals(bits(snapshots[j]!.logits[j]!)), `task ${j + 1}'s logits after task ${i + 1}`).toBe(true);
      snapshots[i]!.weights.forEach((w, li) => {
        const before = snapshots[j]!.weights[li]!;
        let moved = 0;
        for (let k = 0; k < w.length; k++) if (used[li]![k] && !Object.is(w[k], before[k])) moved++;
        expect(moved, `weights of tasks 1..${j + 1} in layer ${li} moved by task ${i + 1}`).toBe(0);
      });
    }
  }
}

/** Count of weights that differ between two snapshots of a layer. */
export function changed(a: Float32Array, b: Float32Array, where?: (i: number) => boolean): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if ((!where || where(i)) && !Object.is(a[i], b[i])) n++;
  return n;
}

/**
 * Stops a run of `raw` after task `stopAfter` (1-based) with a checkpoint in a temporary directory,
 * resumes it with a fresh registry and returns the resumed run's results; tensors must not leak.
 */
export async function stopAndResume(makeRegistry: () => Registry, raw: Record<string, unknown>, stopAfter: number): Promise<ExperimentResults> {
  const dir = mkdtempSync(join(tmpdir(), 'supermask-strategy-'));
  const registry = makeRegistry();
  const partial = await Experiment.create({
    config: resolveConfig(raw, registry),
    registry,
    outDir: dir,
    observers: [{ id: 'stopper', afterTask: (info) => void (info.task.index === stopAfter - 1 && partial.requestStop()) }],
  });
  try {
    expect((await partial.run()).outcome?.status).toBe('interrupted');
  } finally {
    partial.dispose();
  }
  const before = tf.memory().numTensors;
  const resumed = await Experiment.resume(dir, { registry: makeRegistry() });
  try {
    return await resumed.run();
  } finally {
    resumed.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }
}
