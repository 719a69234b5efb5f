import * as tf from '@tensorflow/tfjs-core';
import type { LayerShape } from '../contracts.js';
import { LayerMasks, uniqueName, variableFrom } from '../task-mask.js';

export { uniqueName, variableFrom } from '../task-mask.js';

/**
 * A weight tensor with one binary mask per task (the masked-parameter primitive). The effective
 * weight of a forward pass is W * mask (see contexts.ts); the task masks live in `masks`, the one
 * owner of scores, cached masks and bit-packed finished masks.
 */
export class MaskedLayer implements LayerShape {
  readonly weight: tf.Variable;
  readonly masks: LayerMasks;

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
    this.masks = new LayerMasks(this);
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Fraction of weights kept by each task's mask (the mask scorer's allocation). */
  get density(): number {
    return this.masks.density;
  }

  set density(value: number) {
    this.masks.density = value;
  }

  /** Adds a training task with these initial scores (see LayerMasks.add). */
  addTask(task: number, scores?: Float32Array): void {
    this.masks.add(task, scores);
  }

  /** The trainable score variable of a task that is still training. */
  scores(task: number): tf.Variable {
    return this.masks.scores(task);
  }

  dispose(): void {
    this.masks.dispose();
    this.weight.dispose();
  }
}
