import * as tf from '@tensorflow/tfjs-core';
import type { InferenceContext, TaskInference } from '@supermask/core';
import { MEASURED_RELIABILITY } from './reliability.js';

export interface InferenceOptions {
  /** Test batch size: each batch gets one inferred task id. */
  batch_size: number;
}

/** The `candidates` option of the methods that verify their best-ranked tasks alone (contrast, prototype). */
export function candidatesOption(fallback: number, description: string) {
  return { type: 'integer', minimum: 1, default: fallback, description };
}

export const INFERENCE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    batch_size: { type: 'integer', minimum: 1, default: 128, description: 'Test batch size; each batch gets one inferred task id' },
  },
};

/**
 * Logits of a batch under the superposition W * sum_i alpha_i M_{candidates[i]} (core's
 * superposition context: each layer's mix computed once per context; per-task batch norm cannot
 * apply to a mix of tasks, so it normalises with the batch's own statistics).
 */
export function superpositionLogits(x: tf.Tensor, alpha: tf.Tensor1D, candidates: readonly number[], ctx: InferenceContext): tf.Tensor2D {
  return ctx.backbone.forward(x, ctx.superposition(candidates, alpha));
}

/** Mean output entropy of a batch under the superposition of `candidates` (see superpositionLogits). */
export function superpositionEntropy(x: tf.Tensor, alpha: tf.Tensor1D, candidates: readonly number[], ctx: InferenceContext): tf.Scalar {
  return meanEntropy(superpositionLogits(x, alpha, candidates, ctx));
}

/** Mean over the batch of the entropy of softmax(logits), every output included. */
export function meanEntropy(logits: tf.Tensor2D): tf.Scalar {
  const logp = tf.logSoftmax(logits);
  return logp.exp().mul(logp).sum(1).neg().mean() as tf.Scalar;
}

/**
 * Mean output entropy of the logits divided by their root mean square over the batch: unchanged
 * when every logit is scaled by the same factor, so its gradient ignores how much a mask merely
 * sharpens (or saturates) the outputs.
 */
export function scaleFreeEntropy(logits: tf.Tensor2D): tf.Scalar {
  return meanEntropy(logits.div(logits.square().mean().add(1e-12).sqrt()) as tf.Tensor2D);
}

/** What a gradient method minimises over the superposition's logits (a scalar per batch). */
export type InferenceObjective = (logits: tf.Tensor2D) => tf.Scalar;

/** Reads a 1-D gradient tensor into a new array and disposes it. */
export async function readGradient(g: tf.Tensor): Promise<Float32Array> {
  try {
    return Float32Array.from((await g.data()) as Float32Array);
  } finally {
    g.dispose();
  }
}

/** Gradient of `objective` (default: the mean output entropy) w.r.t. the mixing coefficients alpha. */
export function entropyGradient(x: tf.Tensor, alpha: Float32Array, candidates: readonly number[], ctx: InferenceContext, objective: InferenceObjective = meanEntropy): Promise<Float32Array> {
  return readGradient(tf.tidy(() => tf.grad((a: tf.Tensor) => objective(superpositionLogits(x, a as tf.Tensor1D, candidates, ctx)))(tf.tensor1d(alpha))));
}

/**
 * Task inference from the output entropy of the learned tasks' masks (no task id needed). With
 * one learned task there is nothing to infer; otherwise `choose` picks among tasks 0..k-1.
 */
export abstract class EntropyInference implements TaskInference {
  abstract readonly id: string;
  readonly usesTaskId = false;
  readonly batchSize: number;

  constructor(options: InferenceOptions) {
    this.batchSize = options.batch_size;
  }

  async infer(x: tf.Tensor, _given: number, ctx: InferenceContext): Promise<number> {
    return ctx.learned <= 1 ? 0 : this.choose(x, ctx, Array.from({ length: ctx.learned }, (_, i) => i));
  }

  protected abstract choose(x: tf.Tensor, ctx: InferenceContext, tasks: number[]): Promise<number>;
}

/** The gradient methods: they need superfluous outputs to be reliable. */
abstract class GradientInference extends EntropyInference {
  readonly wantsSuperfluousOutputs = true;
}

/** Gradient of `objective` (default: entropy) at the uniform mix of `candidates` (alpha_i = 1 / candidates.length). */
export function uniformMixGradient(x: tf.Tensor, candidates: readonly number[], ctx: InferenceContext, objective?: InferenceObjective): Promise<Float32Array> {
  return entropyGradient(x, new Float32Array(candidates.length).fill(1 / candidates.length), candidates, ctx, objective);
}

/**
 * The `count` best of `tasks` by `score` (one per task), best first; ties go to the lower task
 * index. `lowerFirst`: the lowest score is best (a gradient), otherwise the highest (a likelihood).
 */
export function bestTasks(tasks: readonly number[], score: ArrayLike<number>, count: number, lowerFirst: boolean): number[] {
  const sign = lowerFirst ? 1 : -1;
  const order = tasks.map((task, i) => ({ task, s: score[i]! })).sort((a, b) => sign * (a.s - b.s) || a.task - b.task);
  return order.slice(0, Math.min(count, tasks.length)).map((o) => o.task);
}

/** Index of the smallest value (the first one on ties). */
export function argmin(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! < values[best]!) best = i;
  return best;
}

/**
 * SupSup's one-shot inference: alpha_i = 1/k over the k learned tasks; the task whose coefficient
 * has the most negative entropy gradient (mixing more of it lowers the entropy most) is chosen.
 */
export class OneShotInference extends GradientInference {
  readonly id = 'oneshot';
  readonly knownReliability = MEASURED_RELIABILITY.oneshot;

  protected async choose(x: tf.Tensor, ctx: InferenceContext, tasks: number[]): Promise<number> {
    return tasks[argmin(await uniformMixGradient(x, tasks, ctx))]!;
  }
}

/**
 * SupSup's binary inference: repeatedly mix the remaining candidates uniformly and keep the half
 * with the lowest entropy gradient, until one is left or after floor(log2(k)) + 1 rounds (then the
 * candidate with the lowest gradient of the last round).
 */
export class BinaryInference extends GradientInference {
  readonly id = 'binary';
  readonly knownReliability = MEASURED_RELIABILITY.binary;

  protected async choose(x: tf.Tensor, ctx: InferenceContext, tasks: number[]): Promise<number> {
    let candidates = tasks;
    const rounds = Math.floor(Math.log2(tasks.length)) + 1;
    for (let round = 0; round < rounds && candidates.length > 1; round++) {
      const g = await uniformMixGradient(x, candidates, ctx);
      const order = candidates.map((task, i) => ({ task, g: g[i]! })).sort((a, b) => a.g - b.g || a.task - b.task);
      candidates = order.slice(0, Math.ceil(order.length / 2)).map((o) => o.task);
    }
    return candidates[0]!;
  }
}

/**
 * The exhaustive baseline: runs the batch under every learned task's mask alone (with that task's
 * per-task state) and picks the task with the lowest mean output entropy. k forward passes per
 * batch instead of one forward and backward pass, and no first-order approximation: it stays
 * reliable where the gradient methods confuse tasks (ExSSNeT's later tasks) and needs no
 * superfluous outputs.
 */
export class ExhaustiveInference extends EntropyInference {
  readonly id = 'exhaustive';

  protected choose(x: tf.Tensor, ctx: InferenceContext, tasks: number[]): Promise<number> {
    return lowestEntropyAlone(x, ctx, tasks);
  }
}

/** The task among `tasks` whose mask alone (with its per-task state) gives `x` the lowest mean output entropy. */
export async function lowestEntropyAlone(x: tf.Tensor, ctx: InferenceContext, tasks: readonly number[]): Promise<number> {
  const entropies = new Float32Array(tasks.length);
  for (const [i, task] of tasks.entries()) {
    const h = tf.tidy(() => meanEntropy(ctx.backbone.forward(x, ctx.fixedContext(task))));
    try {
      entropies[i] = (await h.data())[0]!;
    } finally {
      h.dispose();
    }
  }
  return tasks[argmin(entropies)]!;
}
