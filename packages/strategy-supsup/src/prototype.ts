import type * as tf from '@tensorflow/tfjs-core';
import { inputSize, storedTensor, type ComponentState, type InferenceContext, type StoredTensor, type Task } from '@supermask/core';
import { MEASURED_RELIABILITY } from './reliability.js';
import { bestTasks, candidatesOption, EntropyInference, INFERENCE_SCHEMA, lowestEntropyAlone, type InferenceOptions } from './inference.js';

export interface PrototypeOptions extends InferenceOptions {
  /** How many tasks the input statistics keep; each then runs alone and the lowest entropy wins. */
  candidates: number;
  /** Added to every feature's variance, as a fraction of the task's mean feature variance. */
  variance_floor: number;
}

export const PROTOTYPE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...INFERENCE_SCHEMA.properties,
    candidates: candidatesOption(
      1,
      'Tasks kept by the input statistics; with more than 1 each runs alone and the lowest output entropy wins (for tasks whose inputs look alike; measured worse on Split Fashion-MNIST, where a 2-class head is confident on any input). 1 = the statistics decide alone, no forward pass',
    ),
    variance_floor: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 0.05,
      description: "Added to each feature's variance, as a fraction of the task's mean feature variance (features that never vary in training, e.g. an image's border, would otherwise decide alone)",
    },
  },
};

/** Examples per chunk when statistics are gathered from a split (each chunk two-pass, chunks merged). */
const CHUNK = 1024;

/**
 * Per-feature count, mean and sum of squared deviations (M2) of a set of examples, in float64.
 * Chunks are summarised two-pass and merged with Chan et al.'s formula, so the result does not
 * depend on the order the examples come in beyond float64 rounding.
 */
export class InputStatistics {
  constructor(
    readonly n: number,
    readonly mean: Float64Array,
    readonly m2: Float64Array,
  ) {}

  /** Statistics of `n` examples of `size` features stored row-major in `x`. */
  static of(x: Float32Array, n: number, size: number): InputStatistics {
    if (x.length !== n * size) throw new Error(`input statistics: ${x.length} values are not ${n} examples of ${size} features`);
    let total = new InputStatistics(0, new Float64Array(size), new Float64Array(size));
    for (let start = 0; start < n; start += CHUNK) {
      const end = Math.min(n, start + CHUNK);
      const mean = new Float64Array(size);
      const m2 = new Float64Array(size);
      for (let i = start; i < end; i++) for (let f = 0, o = i * size; f < size; f++) mean[f]! += x[o + f]!;
      for (let f = 0; f < size; f++) mean[f]! /= end - start;
      for (let i = start; i < end; i++) {
        for (let f = 0, o = i * size; f < size; f++) {
          const d = x[o + f]! - mean[f]!;
          m2[f]! += d * d;
        }
      }
      total = total.merge(new InputStatistics(end - start, mean, m2));
    }
    return total;
  }

  /** The statistics of both sets together. */
  merge(other: InputStatistics): InputStatistics {
    if (other.mean.length !== this.mean.length) throw new Error(`input statistics: cannot merge ${other.mean.length} features into ${this.mean.length}`);
    if (other.n === 0) return this;
    if (this.n === 0) return other;
    const n = this.n + other.n;
    const mean = new Float64Array(this.mean.length);
    const m2 = new Float64Array(this.mean.length);
    for (let f = 0; f < mean.length; f++) {
      const d = other.mean[f]! - this.mean[f]!;
      mean[f] = this.mean[f]! + (d * other.n) / n;
      m2[f] = this.m2[f]! + other.m2[f]! + (d * d * this.n * other.n) / n;
    }
    return new InputStatistics(n, mean, m2);
  }

  /** Per-feature (population) variance. */
  variance(): Float64Array {
    return this.m2.map((v) => v / this.n);
  }
}

/** A task's diagonal Gaussian, precomputed for scoring: 1/var, mean/var and sum over features of mean^2/var + log var. */
interface Gaussian {
  inv: Float64Array;
  meanInv: Float64Array;
  constant: number;
}

function gaussian(stats: InputStatistics, floor: number): Gaussian {
  const variance = stats.variance();
  const added = (floor * variance.reduce((a, b) => a + b, 0)) / variance.length || floor;
  const inv = variance.map((v) => 1 / (v + added));
  const meanInv = stats.mean.map((m, f) => m * inv[f]!);
  let constant = 0;
  for (let f = 0; f < inv.length; f++) constant += stats.mean[f]! * meanInv[f]! - Math.log(inv[f]!);
  return { inv, meanInv, constant };
}

/**
 * Log-likelihood (without the 2 pi constant) of a batch of `n` examples under each task's
 * diagonal Gaussian, from the batch's per-feature sums `s1` = sum x and `s2` = sum x^2:
 * -1/2 sum_f [(s2 - 2 mean s1 + n mean^2) / var + n log var]. O(tasks x features).
 */
export function batchLogLikelihood(s1: Float64Array, s2: Float64Array, n: number, tasks: readonly Gaussian[]): Float64Array {
  return Float64Array.from(tasks, (g) => {
    let quadratic = 0;
    for (let f = 0; f < s1.length; f++) quadratic += s2[f]! * g.inv[f]! - 2 * s1[f]! * g.meanInv[f]!;
    return -0.5 * (quadratic + n * g.constant);
  });
}

/**
 * Task inference from what each task's input looks like, not from the network's gradient: while
 * the run trains, `learnTask` keeps per-feature mean and variance of each task's training inputs
 * (aggregate statistics, 2 x features float64 numbers per task; no examples are kept). A test
 * batch is scored by its log-likelihood under every task's diagonal Gaussian (one pass over the
 * batch, O(tasks x features) arithmetic, no forward pass) and the most likely task wins. With
 * `candidates` > 1 the most likely tasks run alone (mask and per-task state) and the lowest mean
 * output entropy wins, as in `exhaustive`: `candidates` forward passes per batch. The cost does
 * not grow with the number of tasks beyond the O(tasks x features) scoring. It needs no
 * superfluous outputs and does not depend on the weights, so it works the same for SupSup,
 * ExSSNeT, WSN and PackNet. Weak where tasks share an input distribution (tasks that differ only
 * in their labels): the statistics cannot rank them, and only the candidates' entropy can.
 */
export class PrototypeInference extends EntropyInference {
  readonly id = 'prototype';
  readonly knownReliability = MEASURED_RELIABILITY.prototype;
  readonly candidates: number;
  readonly varianceFloor: number;
  private readonly stats = new Map<number, InputStatistics>();
  private readonly gaussians = new Map<number, Gaussian>();

  constructor(options: PrototypeOptions) {
    super(options);
    this.candidates = options.candidates;
    this.varianceFloor = options.variance_floor;
  }

  learnTask(task: Task): void {
    this.setStatistics(task.index, InputStatistics.of(task.train.x, task.train.n, inputSize(task.inputShape)));
  }

  hasLearned(task: number): boolean {
    return this.stats.has(task);
  }

  /** The statistics kept for `task` (undefined before learnTask). */
  statistics(task: number): InputStatistics | undefined {
    return this.stats.get(task);
  }

  setStatistics(task: number, stats: InputStatistics): void {
    this.stats.set(task, stats);
    this.gaussians.delete(task);
  }

  /** Log-likelihood of `x` (a batch of one task) under each of `tasks`' statistics. */
  async scores(x: tf.Tensor, tasks: readonly number[]): Promise<Float64Array> {
    const n = x.shape[0]!;
    const size = x.size / n;
    const values = (await x.data()) as Float32Array;
    const s1 = new Float64Array(size);
    const s2 = new Float64Array(size);
    for (let i = 0; i < n; i++) {
      for (let f = 0, o = i * size; f < size; f++) {
        const v = values[o + f]!;
        s1[f]! += v;
        s2[f]! += v * v;
      }
    }
    return batchLogLikelihood(s1, s2, n, tasks.map((t) => this.gaussian(t, size)));
  }

  /** The kept tasks for `x`, most likely first (exposed for diagnostics and tests). */
  async shortlist(x: tf.Tensor, tasks: readonly number[]): Promise<number[]> {
    return bestTasks(tasks, await this.scores(x, tasks), this.candidates, false);
  }

  protected async choose(x: tf.Tensor, ctx: InferenceContext, tasks: number[]): Promise<number> {
    const kept = await this.shortlist(x, tasks);
    return kept.length === 1 ? kept[0]! : lowestEntropyAlone(x, ctx, kept);
  }

  private gaussian(task: number, size: number): Gaussian {
    const stats = this.stats.get(task);
    if (!stats) throw new Error(`task inference "prototype" has no input statistics for task ${task + 1}: it learns them while the run trains (or from the stream's training data in Experiment.evaluateTaskInference)`);
    if (stats.mean.length !== size) throw new Error(`task inference "prototype": task ${task + 1}'s statistics have ${stats.mean.length} features, the batch has ${size}`);
    let g = this.gaussians.get(task);
    if (!g) this.gaussians.set(task, (g = gaussian(stats, this.varianceFloor)));
    return g;
  }

  saveState(): ComponentState {
    const tasks = [...this.stats.keys()].sort((a, b) => a - b);
    const tensors: Record<string, StoredTensor> = {};
    for (const t of tasks) {
      const s = this.stats.get(t)!;
      tensors[`${t}/mean`] = float64(s.mean);
      tensors[`${t}/m2`] = float64(s.m2);
    }
    return { json: { tasks: tasks.map((t) => ({ task: t, n: this.stats.get(t)!.n })) }, tensors };
  }

  loadState(state: ComponentState): void {
    const json = state.json as { tasks?: { task: number; n: number }[] } | null | undefined;
    if (!Array.isArray(json?.tasks)) throw new Error('expected { tasks: [{ task, n }] } (the input statistics of each learned task)');
    const loaded = new Map<number, InputStatistics>();
    for (const { task, n } of json.tasks) {
      if (!Number.isInteger(task) || task < 0 || !Number.isInteger(n) || n <= 0) throw new Error(`tasks entry { task: ${task}, n: ${n} }: expected a task index and a positive example count`);
      const [mean, m2] = (['mean', 'm2'] as const).map((name) => readFloat64(state.tensors?.[`${task}/${name}`], `${task}/${name}`));
      if (mean!.length !== m2!.length) throw new Error(`tensors "${task}/mean" and "${task}/m2" differ in length`);
      loaded.set(task, new InputStatistics(n, mean!, m2!));
    }
    this.stats.clear();
    this.gaussians.clear();
    for (const [t, s] of loaded) this.stats.set(t, s);
  }
}

function float64(values: Float64Array): StoredTensor {
  // The statistics are never changed in place (setStatistics replaces them): a view, no copy.
  return storedTensor('F64', [values.length], new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

function readFloat64(t: StoredTensor | undefined, name: string): Float64Array {
  if (!t) throw new Error(`tensor "${name}" is missing`);
  if (t.dtype !== 'F64' || t.shape.length !== 1 || t.bytes.byteLength !== t.shape[0]! * 8) throw new Error(`tensor "${name}" is ${t.dtype} [${t.shape.join(', ')}], expected F64 [features]`);
  return new Float64Array(Uint8Array.from(t.bytes).buffer);
}
