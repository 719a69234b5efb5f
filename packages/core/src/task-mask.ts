import * as tf from '@tensorflow/tfjs-core';
import type { LayerShape, MaskScorer } from './contracts.js';
import { packBits, unpackBits } from './bitpack.js';
import { effectiveWeight } from './contexts.js';
import { unpackBitsTensor } from './device-masks.js';
import { onDevice } from './webgpu.js';
import type { Rng } from './rng.js';

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

/** The mask of a task that is still training. */
interface TrainingMask {
  /** Real-valued scores (absent for methods without scores, e.g. PackNet). */
  scores?: tf.Variable;
  /** A mask set directly by a phase (overrides the scores until finishTask). */
  fixed?: Float32Array;
  /**
   * Cached tensor and 0/1 values of the current mask (dropped when scores or the fixed mask
   * change); when the mask was found on the device the values are read on first use.
   */
  cached?: { values?: Float32Array; tensor: tf.Tensor };
}

/**
 * The one owner of a layer's task masks: per training task its scores (if the scorer has any),
 * the cached binary mask, or a mask a phase set directly; per finished task the bit-packed mask
 * (1 bit per weight). Bound once to the run's mask scorer (`bind`) and to the layer's density
 * (the scorer's allocation), so no caller passes the scorer around.
 *
 * A training task's mask is, in order: the mask set with `setMask`, else top-`density` of its
 * scores under the scorer, else every weight (a task without scores starts dense).
 *
 * On a GPU backend (`onDevice()`) the mask is found there (`MaskScorer.maskTensor`) and a
 * finished mask is unpacked there (`unpackBitsTensor`); reading a training task's mask back then
 * needs `readValues` (async), after which `values` and `finish` use the values it cached.
 */
export class LayerMasks {
  /** Fraction of weights each task's mask keeps (set from the mask scorer's allocation). */
  density = 1;
  private scorer: MaskScorer | undefined;
  private readonly training = new Map<number, TrainingMask>();
  private readonly packed = new Map<number, Uint8Array>();

  constructor(readonly layer: LayerShape) {}

  /** Binds the run's scorer (and optionally the density it allocated to this layer). */
  bind(scorer: MaskScorer | undefined, density?: number): void {
    this.scorer = scorer;
    if (density !== undefined) this.density = density;
    for (const t of this.training.keys()) this.invalidate(t);
  }

  /** Tasks with a mask here (training or finished), ascending. */
  get tasks(): number[] {
    return [...new Set([...this.training.keys(), ...this.packed.keys()])].sort((a, b) => a - b);
  }

  has(task: number): boolean {
    return this.training.has(task) || this.packed.has(task);
  }

  /** True once the task's mask is final and stored bit-packed. */
  isFinished(task: number): boolean {
    return this.packed.has(task);
  }

  /**
   * Adds a training task. `scores` are its initial scores; without them, a bound scorer with
   * `initScores` draws them from `rng`, else the task has no scores (its mask starts dense).
   */
  add(task: number, scores?: Float32Array, rng?: Rng): void {
    if (this.has(task)) throw new Error(`layer ${this.layer.name} already has task ${task}`);
    const initial = scores ?? (rng && this.scorer?.initScores ? this.scorer.initScores(this.layer, rng) : undefined);
    const entry: TrainingMask = {};
    if (initial) {
      this.checkLength(initial, 'scores');
      entry.scores = variableFrom(tf.tensor(initial, this.layer.shape), true, uniqueName(`${this.layer.name}/scores_t${task}`));
    }
    this.training.set(task, entry);
  }

  hasScores(task: number): boolean {
    return this.training.get(task)?.scores !== undefined;
  }

  /** The trainable score variable of a task that is still training. */
  scores(task: number): tf.Variable {
    const v = this.training.get(task)?.scores;
    if (!v) {
      if (this.packed.has(task)) throw new Error(`layer ${this.layer.name}: task ${task} is finished; its scores were released (only its bit-packed mask is kept)`);
      if (this.training.has(task)) throw new Error(`layer ${this.layer.name}: task ${task} has no scores (the mask scorer gives none)`);
      throw new Error(`layer ${this.layer.name} has no scores for task ${task} (tasks: ${this.tasks.join(', ') || 'none'})`);
    }
    return v;
  }

  /** A copy of a training task's scores. */
  scoreValues(task: number): Float32Array {
    return Float32Array.from(this.scores(task).dataSync() as Float32Array);
  }

  /** A copy of a training task's scores, read asynchronously. */
  async readScores(task: number): Promise<Float32Array> {
    return Float32Array.from((await this.scores(task).data()) as Float32Array);
  }

  setScores(task: number, values: Float32Array): void {
    this.checkLength(values, 'scores');
    const v = this.scores(task);
    tf.tidy(() => v.assign(tf.tensor(values, this.layer.shape)));
    this.invalidate(task);
  }

  /** Sets a training task's mask directly (0/1 per weight); scores no longer decide it. */
  setMask(task: number, values: Float32Array): void {
    this.checkLength(values, 'mask');
    const entry = this.entry(task);
    entry.fixed = Float32Array.from(values, (v) => (v !== 0 ? 1 : 0));
    this.invalidate(task);
  }

  /** The mask a phase set with `setMask` for a training task, if any (a copy). */
  fixedMask(task: number): Float32Array | undefined {
    const fixed = this.training.get(task)?.fixed;
    return fixed ? Float32Array.from(fixed) : undefined;
  }

  /** Marks a training task's cached mask stale (call after its scores change). */
  invalidate(task: number): void {
    const entry = this.training.get(task);
    if (entry?.cached) {
      entry.cached.tensor.dispose();
      entry.cached = undefined;
    }
  }

  /** The task's binary mask as 0/1 floats (a training task's is cached until it changes; do not modify). */
  values(task: number): Float32Array {
    const bits = this.packed.get(task);
    if (bits) return unpackBits(bits, this.layer.size);
    const cached = this.cached(task);
    cached.values ??= cached.tensor.dataSync() as Float32Array;
    return cached.values;
  }

  /** `values` read with `await data()`, as GPU backends need; the values stay cached. */
  async readValues(task: number): Promise<Float32Array> {
    const bits = this.packed.get(task);
    if (bits) return unpackBits(bits, this.layer.size);
    const cached = this.cached(task);
    cached.values ??= (await cached.tensor.data()) as Float32Array;
    return cached.values;
  }

  /**
   * The task's binary mask as a tensor. A training task's mask is cached (not to be disposed); a
   * finished task's is unpacked into a new tensor, so call this inside `tf.tidy`.
   */
  tensor(task: number): tf.Tensor {
    const bits = this.packed.get(task);
    if (bits) return onDevice() ? unpackBitsTensor(bits, this.layer.shape) : tf.tensor(unpackBits(bits, this.layer.size), this.layer.shape);
    return this.cached(task).tensor;
  }

  /**
   * The mask of a training task with a straight-through gradient to its scores (a training
   * forward pass); a task whose mask was set directly, or that has no scores, gets its fixed mask.
   */
  withGradient(task: number): tf.Tensor {
    const entry = this.entry(task);
    if (entry.fixed || !entry.scores) return this.tensor(task);
    if (!this.scorer) throw new Error(`layer ${this.layer.name}: no mask scorer is bound`);
    return this.scorer.maskWithGradient(entry.scores, this.density);
  }

  /**
   * The effective weight `weight` * the training task's mask with the straight-through gradient to
   * its scores: the scorer's `weightWithGradient` (fewer ops) while `weight` is not trainable and
   * the mask comes from scores, else `weight` * `withGradient`'s mask (core's effectiveWeight).
   */
  weightWithGradient(task: number, weight: tf.Variable): tf.Tensor {
    const entry = this.entry(task);
    if (!entry.fixed && entry.scores && !weight.trainable && this.scorer?.weightWithGradient) {
      return this.scorer.weightWithGradient(weight, entry.scores, this.density);
    }
    return effectiveWeight(weight, this.withGradient(task));
  }

  /** Makes a task's mask final: stores it bit-packed, releases scores and cache. Returns the packed mask. */
  finish(task: number): Uint8Array {
    const bits = packBits(this.values(task));
    this.invalidate(task);
    this.training.get(task)?.scores?.dispose();
    this.training.delete(task);
    this.packed.set(task, bits);
    return bits;
  }

  /** Restores a finished task from its bit-packed mask (checkpoints). */
  restore(task: number, bits: Uint8Array): void {
    if (this.has(task)) throw new Error(`layer ${this.layer.name} already has task ${task}`);
    if (bits.length !== Math.ceil(this.layer.size / 8)) throw new Error(`layer ${this.layer.name}: a packed mask needs ${Math.ceil(this.layer.size / 8)} bytes, got ${bits.length}`);
    this.packed.set(task, bits);
  }

  /** The bit-packed mask of a finished task. */
  packedMask(task: number): Uint8Array {
    const bits = this.packed.get(task);
    if (!bits) throw new Error(`layer ${this.layer.name}: task ${task} is not finished`);
    return bits;
  }

  /** Bytes kept for a task: its packed mask, or its scores while it trains. */
  bytes(task: number): { mask: number; scores: number } {
    return { mask: this.packed.get(task)?.byteLength ?? 0, scores: this.hasScores(task) ? 4 * this.layer.size : 0 };
  }

  dispose(): void {
    for (const [t, entry] of this.training) {
      this.invalidate(t);
      entry.scores?.dispose();
    }
    this.training.clear();
    this.packed.clear();
  }

  private entry(task: number): TrainingMask {
    const entry = this.training.get(task);
    if (!entry) {
      if (this.packed.has(task)) throw new Error(`layer ${this.layer.name}: task ${task} is finished; its mask is final`);
      throw new Error(`layer ${this.layer.name} has no task ${task} (tasks: ${this.tasks.join(', ') || 'none'})`);
    }
    return entry;
  }

  private cached(task: number): { values?: Float32Array; tensor: tf.Tensor } {
    const entry = this.entry(task);
    if (!entry.cached && !entry.fixed && entry.scores && this.scorer?.maskTensor && onDevice()) {
      entry.cached = { tensor: tf.keep(tf.tidy(() => this.scorer!.maskTensor!(entry.scores!, this.density))) };
    }
    if (!entry.cached) {
      let values: Float32Array;
      if (entry.fixed) values = entry.fixed;
      else if (entry.scores) {
        if (!this.scorer) throw new Error(`layer ${this.layer.name}: no mask scorer is bound`);
        values = this.scorer.maskValues(entry.scores.dataSync() as Float32Array, this.density);
      } else values = new Float32Array(this.layer.size).fill(1);
      entry.cached = { values, tensor: tf.keep(tf.tensor(values, this.layer.shape)) };
    }
    return entry.cached;
  }

  private checkLength(values: Float32Array, what: string): void {
    if (values.length !== this.layer.size) {
      throw new Error(`layer ${this.layer.name}: ${what} have ${values.length} values, shape ${this.layer.shape.join('x')} needs ${this.layer.size}`);
    }
  }
}
