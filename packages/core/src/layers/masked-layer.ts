import * as tf from '@tensorflow/tfjs';
import type { LayerShape, MaskScorer } from '../contracts.js';
import { packBits, unpackBits } from '../bitpack.js';
import { unpackBitsTensor } from '../device-masks.js';
import { onDevice } from '../webgpu.js';

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
  /** Read from `tensor` on first use when the mask was found on the device. */
  values?: Float32Array;
  tensor: tf.Tensor;
}

/**
 * A weight tensor with one real-valued score tensor per task (the masked-parameter primitive).
 * The task's mask keeps the top `density` fraction of |scores|; the effective weight is W * mask.
 *
 * While a task trains, its scores are a trainable variable and its mask is cached until the
 * scores change. Once the task is finished (`finishTask`), its mask is stored bit-packed (1 bit
 * per weight) and its scores are released: the compact task state. A finished task's mask is
 * unpacked on use.
 *
 * On a GPU backend (`onDevice()`) masks are found and unpacked there (`MaskScorer.maskTensor`,
 * `unpackBitsTensor`); reading a training task's mask back then needs `readMaskValues` (async),
 * after which the synchronous `maskValues` and `finishTask` use the values it cached.
 */
export class MaskedLayer implements LayerShape {
  readonly weight: tf.Variable;
  /** Fraction of weights kept by each task's mask (set from the mask scorer's allocation). */
  density = 1;
  private readonly scoreVars = new Map<number, tf.Variable>();
  private readonly masks = new Map<number, CachedMask>();
  private readonly packed = new Map<number, Uint8Array>();

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

  /** Tasks that have a mask in this layer (training or finished), ascending. */
  get tasks(): number[] {
    return [...new Set([...this.scoreVars.keys(), ...this.packed.keys()])].sort((a, b) => a - b);
  }

  hasTask(task: number): boolean {
    return this.scoreVars.has(task) || this.packed.has(task);
  }

  /** True once the task's mask is final and stored bit-packed. */
  isFinished(task: number): boolean {
    return this.packed.has(task);
  }

  addTask(task: number, scores: Float32Array): void {
    if (this.hasTask(task)) throw new Error(`layer ${this.name} already has task ${task}`);
    this.checkLength(scores);
    this.scoreVars.set(task, variableFrom(tf.tensor(scores, this.shape), true, uniqueName(`${this.name}/scores_t${task}`)));
  }

  /** The trainable score variable of a task that is still training. */
  scores(task: number): tf.Variable {
    const v = this.scoreVars.get(task);
    if (!v) {
      if (this.packed.has(task)) throw new Error(`layer ${this.name}: task ${task} is finished; its scores were released (only its bit-packed mask is kept)`);
      throw new Error(`layer ${this.name} has no scores for task ${task} (tasks: ${this.tasks.join(', ') || 'none'})`);
    }
    return v;
  }

  /** A copy of a training task's scores. */
  scoreValues(task: number): Float32Array {
    return Float32Array.from(this.scores(task).dataSync() as Float32Array);
  }

  setScores(task: number, values: Float32Array): void {
    this.checkLength(values);
    const v = this.scores(task);
    tf.tidy(() => v.assign(tf.tensor(values, this.shape)));
    this.invalidateMask(task);
  }

  /** Marks a training task's cached mask stale (call after its scores change). */
  invalidateMask(task: number): void {
    const cached = this.masks.get(task);
    if (cached) {
      cached.tensor.dispose();
      this.masks.delete(task);
    }
  }

  /**
   * Makes a task's mask final: stores it bit-packed and releases its scores and cached mask.
   * Returns the packed mask.
   */
  finishTask(task: number, scorer: MaskScorer): Uint8Array {
    const bits = packBits(this.maskValues(task, scorer));
    this.invalidateMask(task);
    this.scoreVars.get(task)?.dispose();
    this.scoreVars.delete(task);
    this.packed.set(task, bits);
    return bits;
  }

  /** Restores a finished task from its bit-packed mask (checkpoints). */
  restoreFinishedTask(task: number, bits: Uint8Array): void {
    if (this.hasTask(task)) throw new Error(`layer ${this.name} already has task ${task}`);
    if (bits.length !== Math.ceil(this.size / 8)) throw new Error(`layer ${this.name}: a packed mask needs ${Math.ceil(this.size / 8)} bytes, got ${bits.length}`);
    this.packed.set(task, bits);
  }

  /** The bit-packed mask of a finished task. */
  packedMask(task: number): Uint8Array {
    const bits = this.packed.get(task);
    if (!bits) throw new Error(`layer ${this.name}: task ${task} is not finished`);
    return bits;
  }

  /** Bytes this layer keeps for a task: its packed mask, or its scores while it trains. */
  taskBytes(task: number): { mask: number; scores: number } {
    return { mask: this.packed.get(task)?.byteLength ?? 0, scores: this.scoreVars.has(task) ? 4 * this.size : 0 };
  }

  /** The task's binary mask as 0/1 floats (a training task's is cached until its scores change). */
  maskValues(task: number, scorer: MaskScorer): Float32Array {
    const bits = this.packed.get(task);
    if (bits) return unpackBits(bits, this.size);
    const cached = this.cachedMask(task, scorer);
    cached.values ??= cached.tensor.dataSync() as Float32Array;
    return cached.values;
  }

  /** `maskValues` read with `await data()`, as GPU backends need; the values stay cached. */
  async readMaskValues(task: number, scorer: MaskScorer): Promise<Float32Array> {
    const bits = this.packed.get(task);
    if (bits) return unpackBits(bits, this.size);
    const cached = this.cachedMask(task, scorer);
    cached.values ??= (await cached.tensor.data()) as Float32Array;
    return cached.values;
  }

  /**
   * The task's binary mask as a tensor. A training task's mask is cached (not to be disposed); a
   * finished task's is unpacked into a new tensor, so call this inside `tf.tidy`.
   */
  maskTensor(task: number, scorer: MaskScorer): tf.Tensor {
    const bits = this.packed.get(task);
    if (bits) return onDevice() ? unpackBitsTensor(bits, this.shape) : tf.tensor(unpackBits(bits, this.size), this.shape);
    return this.cachedMask(task, scorer).tensor;
  }

  dispose(): void {
    for (const t of [...this.masks.keys()]) this.invalidateMask(t);
    for (const v of this.scoreVars.values()) v.dispose();
    this.scoreVars.clear();
    this.packed.clear();
    this.weight.dispose();
  }

  private cachedMask(task: number, scorer: MaskScorer): CachedMask {
    let cached = this.masks.get(task);
    if (!cached) {
      if (onDevice() && scorer.maskTensor) {
        cached = { tensor: tf.keep(scorer.maskTensor(this.scores(task), this.density)) };
      } else {
        const values = scorer.maskValues(this.scores(task).dataSync() as Float32Array, this.density);
        cached = { values, tensor: tf.keep(tf.tensor(values, this.shape)) };
      }
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
