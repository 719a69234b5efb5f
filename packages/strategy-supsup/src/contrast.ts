import * as tf from '@tensorflow/tfjs-core';
import { inputSize, Rng, type BackboneSpec, type InferenceContext } from '@supermask/core';
import { MEASURED_RELIABILITY } from './reliability.js';
import { bestTasks, candidatesOption, EntropyInference, INFERENCE_SCHEMA, lowestEntropyAlone, meanEntropy, readGradient, scaleFreeEntropy, uniformMixGradient, type InferenceObjective, type InferenceOptions } from './inference.js';

export type ContrastObjective = 'entropy' | 'scale-free-entropy' | 'superfluous';

export interface ContrastOptions extends InferenceOptions {
  /** How many tasks the gradient keeps; each then runs alone and the lowest entropy wins. */
  candidates: number;
  /** What the superposition's gradient ranks the tasks by. */
  objective: ContrastObjective;
  /** Subtract the gradient on the scrambled batch (false: the plain gradient at the uniform mix). */
  scramble: boolean;
  /** Seed of the feature permutation that scrambles a batch. */
  scramble_seed: number;
}

export const CONTRAST_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...INFERENCE_SCHEMA.properties,
    candidates: candidatesOption(2, 'Tasks kept by the gradient; each runs alone and the lowest output entropy wins (1 = the gradient decides alone)'),
    objective: {
      enum: ['entropy', 'scale-free-entropy', 'superfluous'],
      default: 'entropy',
      description:
        'entropy = SupSup H (mean output entropy); scale-free-entropy = H of the logits divided by their RMS over the batch; superfluous = SupSup G (logsumexp of the logits, gradient through the superfluous outputs only; needs outputs.superfluous)',
    },
    scramble: {
      type: 'boolean',
      default: true,
      description: 'Rank by the gradient on the batch minus the gradient on the batch with its features scrambled (removes each mask\'s bias); false = the plain gradient',
    },
    scramble_seed: { type: 'integer', minimum: 0, default: 0, description: 'Seed of the feature permutation that scrambles a batch' },
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
 * lowers G most. It ignores how the probability is spread over the real classes; measured on
 * ExSSNeT (bench/task-inference-diagnose.mjs) it ranks the right task first where H does not with
 * 5,000 training images per task, but with all 60,000 both fail without the contrast.
 */
export function superfluousLogSumExp(numClasses: number): InferenceObjective {
  return (logits) => {
    const real = stopGradient(logits.slice([0, 0], [-1, numClasses]));
    const extra = logits.slice([0, numClasses], [-1, -1]);
    return tf.logSumExp(tf.concat([real, extra], 1), 1).mean() as tf.Scalar;
  };
}

/**
 * `x` with its features (the flattened values of each example) reordered by `permutation`: input
 * that no learned task has seen, with the batch's own value statistics.
 */
export function scramble(x: tf.Tensor, permutation: Int32Array): tf.Tensor {
  return tf.tidy(() => tf.gather(x.reshape([x.shape[0]!, -1]), tf.tensor1d(permutation, 'int32'), 1).reshape(x.shape));
}

/**
 * Gradient w.r.t. alpha of objective(x) - objective(scramble(x)) through one superposition (the
 * mix is built once, two forward passes and their backward pass). The scrambled batch measures
 * what each mask's coefficient does to the objective on input that belongs to no task (a per-mask
 * bias: masks with trained, larger weights lower the entropy on any input); the difference keeps
 * what is specific to the batch.
 */
export function contrastGradient(x: tf.Tensor, alpha: Float32Array, candidates: readonly number[], ctx: InferenceContext, objective: InferenceObjective, permutation: Int32Array): Promise<Float32Array> {
  return readGradient(
    tf.tidy(() => {
      const foreign = scramble(x, permutation);
      return tf.grad((a: tf.Tensor) => {
        const mix = ctx.superposition(candidates, a as tf.Tensor1D);
        return objective(ctx.backbone.forward(x, mix)).sub(objective(ctx.backbone.forward(foreign, mix))) as tf.Scalar;
      })(tf.tensor1d(alpha));
    }),
  );
}

/**
 * Task inference that stays reliable when weights are trained (ExSSNeT) and needs no superfluous
 * outputs. One superposition of every learned mask (alpha_i = 1/k, the mix built once) runs
 * forward on the batch and on the batch with its features scrambled by a fixed permutation, and
 * one backward pass gives d/dalpha [H(batch) - H(scrambled)]: the scrambled batch belongs to no
 * task, so its gradient is each mask's bias (the part of dH/dalpha_i that any input gets, large
 * for masks whose trained weights sharpen every output) and the difference keeps what is specific
 * to the batch. The `candidates` tasks with the lowest contrast then run alone (their masks and
 * per-task state) and the lowest mean output entropy wins, as in `exhaustive`. Cost per batch: one
 * mix, two forward passes and one backward pass through it, plus `candidates` plain forward passes,
 * whatever the number of tasks. No calibration state: the permutation comes from `scramble_seed`.
 */
export class ContrastInference extends EntropyInference {
  readonly id = 'contrast';
  readonly knownReliability = MEASURED_RELIABILITY.contrast;
  readonly candidates: number;
  readonly objective: ContrastObjective;
  readonly scramble: boolean;
  readonly wantsSuperfluousOutputs: boolean;
  private readonly rank: InferenceObjective;
  private readonly seed: number;
  private permutation: Int32Array | undefined;

  constructor(options: ContrastOptions, spec: Pick<BackboneSpec, 'numClasses' | 'numOutputs'>) {
    super(options);
    this.candidates = options.candidates;
    this.objective = options.objective;
    this.scramble = options.scramble;
    this.seed = options.scramble_seed;
    if (this.objective === 'superfluous' && spec.numOutputs <= spec.numClasses) {
      throw new Error(`task_inference.options.objective: "superfluous" needs superfluous outputs (outputs.superfluous > 0), the run has none; use "entropy"`);
    }
    this.wantsSuperfluousOutputs = this.objective === 'superfluous';
    this.rank = this.objective === 'superfluous' ? superfluousLogSumExp(spec.numClasses) : this.objective === 'scale-free-entropy' ? scaleFreeEntropy : meanEntropy;
  }

  /** The gradient each task is ranked by (lower is more likely), one per entry of `tasks`. */
  scores(x: tf.Tensor, ctx: InferenceContext, tasks: readonly number[]): Promise<Float32Array> {
    if (!this.scramble) return uniformMixGradient(x, tasks, ctx, this.rank);
    const size = inputSize(x.shape.slice(1));
    if (this.permutation?.length !== size) this.permutation = new Rng(this.seed).permutation(size);
    return contrastGradient(x, new Float32Array(tasks.length).fill(1 / tasks.length), tasks, ctx, this.rank, this.permutation);
  }

  /** The kept tasks for `x`, lowest score first (exposed for diagnostics and tests). */
  async shortlist(x: tf.Tensor, ctx: InferenceContext, tasks: readonly number[]): Promise<number[]> {
    return bestTasks(tasks, await this.scores(x, ctx, tasks), this.candidates, true);
  }

  protected async choose(x: tf.Tensor, ctx: InferenceContext, tasks: number[]): Promise<number> {
    const kept = await this.shortlist(x, ctx, tasks);
    return kept.length === 1 ? kept[0]! : lowestEntropyAlone(x, ctx, kept);
  }
}
