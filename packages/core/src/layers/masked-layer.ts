import * as tf from '@tensorflow/tfjs';
import type { LayerShape, MaskScorer } from '../contracts.js';

let uid = 0;
/** tfjs variable names are global to the engine: make each one unique. */
export function uniqueName(base: string): string {
  uid += 1;
  return `${base}_${uid}`;
}

/** A variable holding `initial`'s values; `initial` itself is disposed (tf.variable keeps it alive otherwise). */
export function variableFrom(initial: tf.Tensor, trainable: boolean, name: string): tf.Variable {
  const v = tf.variable(initial, trainable, name);
  initial.dispose();
  return v;
}

interface CachedMask {
  values: Float32Array;
  tensor: tf.Tensor;
}

/**
 * A weight tensor with one real-valued score tensor per task (the masked-parameter primitive).
 * The task's mask keeps the top `density` fraction of |scores|; the effective weight is W * mask.
 * Masks of finished tasks are cached and only recomputed when their scores change.
 */
export class MaskedLayer implements LayerShape {
  readonly weight: tf.Variable;
  /** Fraction of weights kept by each task's mask (set from the mask scorer's allocation). */
  density = 1;
  private readonly scoreVars = new Map<number, tf.Variable>();
  private readonly masks = new Map<number, CachedMask>();

  constructor(
    readonly name: string,
    readonly shape: number[],
    readonly fanIn: number,
    readonly fanOut: number,
    initialWeight: Float32Array,
  ) {
    if (initialWeight.length !== this.size) {
      throw new Error(`layer ${name}: initial weight has ${initialWeight.length} values, shape ${shape.join('x')} needs ${this.size}`);
    }
    this.weight = variableFrom(tf.tensor(initialWeight, shape), false, uniqueName(`${name}/weight`));
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Tasks that have scores in this layer, ascending. */
  get tasks(): number[] {
    return [...this.scoreVars.keys()].sort((a, b) => a - b);
  }

  hasTask(task: number): boolean {
    return this.scoreVars.has(task);
  }

  addTask(task: number, scores: Float32Array): void {
    if (this.scoreVars.has(task)) throw new Error(`layer ${this.name} already has scores for task ${task}`);
    this.checkLength(scores);
    this.scoreVars.set(task, variableFrom(tf.tensor(scores, this.shape), true, uniqueName(`${this.name}/scores_t${task}`)));
  }

  /** The trainable score variable of a task. */
  scores(task: number): tf.Variable {
    const v = this.scoreVars.get(task);
    if (!v) throw new Error(`layer ${this.name} has no scores for task ${task} (tasks: ${this.tasks.join(', ') || 'none'})`);
    return v;
  }

  /** A copy of a task's scores. */
  scoreValues(task: number): Float32Array {
    return Float32Array.from(this.scores(task).dataSync() as Float32Array);
  }

  setScores(task: number, values: Float32Array): void {
    this.checkLength(values);
    const v = this.scores(task);
    tf.tidy(() => v.assign(tf.tensor(values, this.shape)));
    this.invalidateMask(task);
  }

  /** Marks a task's cached mask stale (call after its scores change). */
  invalidateMask(task: number): void {
    const cached = this.masks.get(task);
    if (cached) {
      cached.tensor.dispose();
      this.masks.delete(task);
    }
  }

  /** The task's binary mask as 0/1 floats (cached until the scores change). */
  maskValues(task: number, scorer: MaskScorer): Float32Array {
    return this.cachedMask(task, scorer).values;
  }

  /** The task's binary mask as a tensor (cached until the scores change; do not dispose it). */
  maskTensor(task: number, scorer: MaskScorer): tf.Tensor {
    return this.cachedMask(task, scorer).tensor;
  }

  dispose(): void {
    for (const t of [...this.masks.keys()]) this.invalidateMask(t);
    for (const v of this.scoreVars.values()) v.dispose();
    this.scoreVars.clear();
    this.weight.dispose();
  }

  private cachedMask(task: number, scorer: MaskScorer): CachedMask {
    let cached = this.masks.get(task);
    if (!cached) {
      const values = scorer.maskValues(this.scores(task).dataSync() as Float32Array, this.density);
      cached = { values, tensor: tf.keep(tf.tensor(values, this.shape)) };
      this.masks.set(task, cached);
    }
    return cached;
  }

  private checkLength(values: Float32Array): void {
    if (values.length !== this.size) {
      throw new Error(`layer ${this.name}: scores have ${values.length} values, shape ${this.shape.join('x')} needs ${this.size}`);
    }
  }
}
