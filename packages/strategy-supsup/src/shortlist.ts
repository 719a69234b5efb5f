import * as tf from '@tensorflow/tfjs';
import type { BackboneSpec, InferenceContext } from '@supermask/core';
import { EntropyInference, INFERENCE_SCHEMA, lowestEntropyAlone, meanEntropy, uniformMixGradient, type InferenceObjective, type InferenceOptions } from './inference.js';

export type ShortlistObjective = 'auto' | 'superfluous' | 'entropy';

export interface ShortlistOptions extends InferenceOptions {
  /** How many tasks the gradient keeps; each then runs alone and the lowest entropy wins. */
  candidates: number;
  /** What the superposition's gradient ranks the tasks by. */
  objective: ShortlistObjective;
}

export const SHORTLIST_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...INFERENCE_SCHEMA.properties,
    candidates: {
      type: 'integer',
      minimum: 1,
      default: 2,
      description: 'Tasks kept by the superposition gradient; each runs alone and the lowest output entropy wins (1 = the gradient decides alone)',
    },
    objective: {
      enum: ['auto', 'superfluous', 'entropy'],
      default: 'auto',
      description:
        'Ranking objective: superfluous = SupSup G (logsumexp of the logits, gradient through the superfluous outputs only), entropy = SupSup H (output entropy); auto = superfluous when the run has superfluous outputs, else entropy',
    },
  },
};

/** A gradient of a constant: `x` forward, zero backward (PyTorch's detach). */
const stopGradient = tf.customGrad(((x: tf.Tensor) => ({ value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) })) as unknown as Parameters<typeof tf.customGrad>[0]) as (
  x: tf.Tensor,
) => tf.Tensor;

/**
 * SupSup's G objective: the batch mean of logsumexp over every output, with the gradient flowing
 * through the superfluous outputs only (the first `numClasses` logits are constants). Training
 * pushes the superfluous logits down under the right mask, so mixing in more of the right task
 * lowers G most. Unlike the entropy it ignores how the probability is spread over the real
 * classes, which the trained weights of ExSSNeT sharpen for every mask alike.
 */
export function superfluousLogSumExp(numClasses: number): InferenceObjective {
  return (logits) => {
    const real = stopGradient(logits.slice([0, 0], [-1, numClasses]));
    const extra = logits.slice([0, numClasses], [-1, -1]);
    return tf.logSumExp(tf.concat([real, extra], 1), 1).mean() as tf.Scalar;
  };
}

/**
 * Gradient shortlist, then verification: one forward and backward pass through the superposition
 * of every learned mask (alpha_i = 1/k) ranks the tasks by the gradient of the objective; the
 * `candidates` best then run alone (their masks and per-task state) and the lowest mean output
 * entropy wins, as in `exhaustive`. Cost per batch: one superposition pass with its backward pass
 * plus `candidates` plain forward passes, whatever the number of tasks; it is exact whenever the
 * right task is among the shortlisted ones. No calibration and no state beyond the options.
 */
export class ShortlistInference extends EntropyInference {
  readonly id = 'shortlist';
  readonly candidates: number;
  readonly objective: 'superfluous' | 'entropy';
  readonly wantsSuperfluousOutputs: boolean;
  private readonly rank: InferenceObjective;

  constructor(options: ShortlistOptions, spec: Pick<BackboneSpec, 'numClasses' | 'numOutputs'>) {
    super(options);
    this.candidates = options.candidates;
    const superfluous = spec.numOutputs > spec.numClasses;
    if (options.objective === 'superfluous' && !superfluous) {
      throw new Error(`task_inference.options.objective: "superfluous" needs superfluous outputs (outputs.superfluous > 0), the run has none; use "auto" or "entropy"`);
    }
    this.objective = options.objective === 'auto' ? (superfluous ? 'superfluous' : 'entropy') : options.objective;
    this.wantsSuperfluousOutputs = this.objective === 'superfluous';
    this.rank = this.objective === 'superfluous' ? superfluousLogSumExp(spec.numClasses) : meanEntropy;
  }

  /** The shortlisted tasks for `x`, best gradient first (exposed for diagnostics and tests). */
  shortlist(x: tf.Tensor, ctx: InferenceContext, tasks: readonly number[]): number[] {
    const g = uniformMixGradient(x, tasks, ctx, this.rank);
    const order = tasks.map((task, i) => ({ task, g: g[i]! })).sort((a, b) => a.g - b.g || a.task - b.task);
    return order.slice(0, Math.min(this.candidates, tasks.length)).map((o) => o.task);
  }

  protected choose(x: tf.Tensor, ctx: InferenceContext, tasks: number[]): number {
    const kept = this.shortlist(x, ctx, tasks);
    return kept.length === 1 ? kept[0]! : lowestEntropyAlone(x, ctx, kept);
  }
}
