import * as tf from '@tensorflow/tfjs-core';
import {
  asFloat32,
  asUint16,
  fromFloat16,
  inputSize,
  storedTensor,
  toFloat16,
  type ComponentState,
  type KnowledgeTransfer,
  type StoredTensor,
  type Task,
  type TransferContext,
} from '@supermask/core';
import { knnAccuracy } from './knn.js';

export type KktMode = 'best' | 'always' | 'all';

export interface KktOptions {
  /** Fraction of the new task's training data sampled for the k-NN probe. */
  sample_fraction: number;
  /** Fraction of the sample the k-NN is fit on; it is scored on the rest. */
  fit_fraction: number;
  /** Neighbours (capped by the fit set's size). */
  k: number;
  mode: KktMode;
  /** How earlier tasks' scores are kept for transfer. */
  score_precision: 'float32' | 'float16';
  /** Batch size of the feature pass. */
  batch_size: number;
}

export const KKT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sample_fraction: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.2, description: "Fraction of the new task's training data probed" },
    fit_fraction: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.66, description: 'Fraction of the sample the k-NN is fit on (scored on the rest)' },
    k: { type: 'integer', minimum: 1, default: 200, description: 'Neighbours (capped by the fit set size)' },
    mode: {
      enum: ['best', 'always', 'all'],
      default: 'best',
      description: 'best: copy the best task if above chance; always: copy the best task; all: average every task above chance',
    },
    score_precision: {
      enum: ['float32', 'float16'],
      default: 'float32',
      description: "Precision of the stored copy of each finished task's scores",
    },
    batch_size: { type: 'integer', minimum: 1, default: 1000, description: 'Batch size of the feature pass' },
  },
};

type StoredScores = { precision: 'float32'; layers: Float32Array[] } | { precision: 'float16'; layers: Uint16Array[] };

/**
 * KKT (Yadav & Bansal, 2023): before the mask phase of task t > 1, probe every earlier task j with
 * a k-NN classifier on the penultimate features of a sample of t's training data under j's mask
 * and state, and initialise t's scores from the best task (or the average of those above chance).
 * It keeps its own copy of each finished task's scores (float32 or float16).
 */
export class KnnKnowledgeTransfer implements KnowledgeTransfer {
  readonly id = 'kkt';
  private readonly stored = new Map<number, StoredScores>();

  constructor(readonly options: KktOptions) {}

  /** Bytes held for earlier tasks' scores. */
  get storedBytes(): number {
    let bytes = 0;
    for (const s of this.stored.values()) for (const l of s.layers) bytes += l.byteLength;
    return bytes;
  }

  /** The stored scores of task j, as float32. */
  scoresOf(task: number): Float32Array[] {
    const s = this.stored.get(task);
    if (!s) throw new Error(`kkt holds no scores of task ${task + 1}`);
    return s.precision === 'float32' ? s.layers.map((l) => Float32Array.from(l)) : s.layers.map((l) => fromFloat16(l));
  }

  /** Keeps a copy of a finished task's scores (float32 or float16) before the layers release them. */
  taskFinished(task: number, scores: readonly Float32Array[]): void {
    this.stored.set(
      task,
      this.options.score_precision === 'float16'
        ? { precision: 'float16', layers: scores.map((l) => toFloat16(l)) }
        : { precision: 'float32', layers: scores.map((l) => Float32Array.from(l)) },
    );
  }

  saveState(): ComponentState {
    const tensors: Record<string, StoredTensor> = {};
    for (const [task, s] of this.stored) {
      s.layers.forEach((l, li) => {
        tensors[`${task}/${li}`] = s.precision === 'float16' ? storedTensor('F16', [l.length], l as Uint16Array) : storedTensor('F32', [l.length], l as Float32Array);
      });
    }
    return { json: { tasks: [...this.stored.keys()], layers: [...this.stored.values()][0]?.layers.length ?? 0 }, tensors };
  }

  loadState(state: ComponentState): void {
    const { tasks, layers } = state.json as { tasks: number[]; layers: number };
    this.stored.clear();
    for (const task of tasks) {
      const parts = Array.from({ length: layers }, (_, li) => {
        const t = state.tensors?.[`${task}/${li}`];
        if (!t) throw new Error(`kkt state lacks the scores of task ${task + 1}, layer ${li}`);
        return t;
      });
      if (parts[0]!.dtype === 'F16') this.stored.set(task, { precision: 'float16', layers: parts.map(asUint16) });
      else this.stored.set(task, { precision: 'float32', layers: parts.map(asFloat32) });
    }
  }

  async beforeTask(ctx: TransferContext): Promise<Record<string, unknown> | undefined> {
    if (ctx.earlier.length === 0) return undefined;
    for (const earlier of ctx.earlier) {
      if (!this.stored.has(earlier.index)) throw new Error(`kkt holds no scores of task ${earlier.index + 1}: it must see every task finish (taskFinished)`);
    }
    const started = performance.now();
    const task = ctx.task;
    const classes = task.classes.length;
    const chance = 1 / classes;
    const sample = drawSample(task, this.options.sample_fraction, ctx.rng.child('sample'));
    const fitCount = Math.min(sample.n - 1, Math.max(1, Math.round(this.options.fit_fraction * sample.n)));
    const accuracies: number[] = [];
    for (const earlier of ctx.earlier) {
      const features = this.features(ctx, sample.x, sample.n, task, earlier.index);
      try {
        accuracies.push(await knnAccuracy(features, sample.y, fitCount, this.options.k, classes));
      } finally {
        features.dispose();
      }
    }
    const chosen = chooseSources(accuracies, chance, this.options.mode);
    if (chosen.length > 0) {
      const sources = chosen.map((j) => this.scoresOf(j));
      const scores = sources[0]!.map((layer, li) => {
        const out = new Float32Array(layer.length);
        for (const s of sources) {
          const l = s[li]!;
          for (let i = 0; i < out.length; i++) out[i] += l[i]!;
        }
        if (sources.length > 1) for (let i = 0; i < out.length; i++) out[i] /= sources.length;
        return out;
      });
      ctx.setScores(task.index, scores);
    }
    return {
      method: 'kkt',
      mode: this.options.mode,
      knn_accuracy: accuracies,
      chance,
      chosen,
      sample_size: sample.n,
      fit_size: fitCount,
      k: Math.min(this.options.k, fitCount),
      score_precision: this.options.score_precision,
      stored_score_bytes: this.storedBytes,
      seconds: (performance.now() - started) / 1000,
    };
  }

  private features(ctx: TransferContext, x: Float32Array, n: number, task: Task, j: number): tf.Tensor2D {
    const size = inputSize(task.inputShape);
    const parts: tf.Tensor2D[] = [];
    for (let start = 0; start < n; start += this.options.batch_size) {
      const end = Math.min(n, start + this.options.batch_size);
      parts.push(
        tf.tidy(() => ctx.backbone.features(tf.tensor(x.subarray(start * size, end * size), [end - start, ...task.inputShape]), ctx.fixedContext(j))),
      );
    }
    const all = tf.concat(parts) as tf.Tensor2D;
    tf.dispose(parts);
    return all;
  }
}

/**
 * The earlier tasks to transfer from, given their k-NN accuracies: `best` the most accurate if it
 * beats chance, `always` the most accurate, `all` every task above chance. Ties go to the
 * earliest task. Empty means: keep the fresh init.
 */
export function chooseSources(accuracies: readonly number[], chance: number, mode: KktMode): number[] {
  if (accuracies.length === 0) return [];
  let best = 0;
  accuracies.forEach((a, j) => {
    if (a > accuracies[best]!) best = j;
  });
  if (mode === 'always') return [best];
  if (mode === 'best') return accuracies[best]! > chance ? [best] : [];
  return accuracies.map((a, j) => (a > chance ? j : -1)).filter((j) => j >= 0);
}

/** A seeded random sample (without replacement) of a task's training data, in random order. */
function drawSample(task: Task, fraction: number, rng: { permutation(n: number): Int32Array }) {
  const size = inputSize(task.inputShape);
  const n = Math.max(2, Math.min(task.train.n, Math.round(fraction * task.train.n)));
  const order = rng.permutation(task.train.n).subarray(0, n);
  const x = new Float32Array(n * size);
  const y = new Int32Array(n);
  order.forEach((row, i) => {
    x.set(task.train.x.subarray(row * size, (row + 1) * size), i * size);
    y[i] = task.train.y[row]!;
  });
  return { x, y, n };
}
