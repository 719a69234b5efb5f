import * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from './contracts.js';
import type { MaskedLayer } from './layers/masked-layer.js';

/**
 * The forward contexts of a run, in one place: how a forward pass gets each masked layer's
 * effective weight W * M. Every context (and the export) goes through `effectiveWeight`.
 */

/** The effective weight of a masked layer: W * M (M a 0/1 mask or a mix of masks). */
export function effectiveWeight(weight: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return weight.mul(mask);
}

/**
 * Training context of task `task`: each layer's mask with the straight-through gradient to the
 * task's scores (a task whose mask a phase set, or without scores, uses that fixed mask).
 */
export function trainingContext(task: number): ForwardContext {
  return { task, training: true, weight: (layer: MaskedLayer) => effectiveWeight(layer.weight, layer.masks.withGradient(task)) };
}

/** Context with task `task`'s fixed (cached or bit-packed) mask; `training` updates its batch-norm statistics. */
export function fixedContext(task: number, training = false): ForwardContext {
  return { task, training, weight: (layer: MaskedLayer) => effectiveWeight(layer.weight, layer.masks.tensor(task)) };
}

/**
 * Superposition of learned tasks' masks: W * sum_i alpha_i M_{candidates[i]} (task inference).
 * Per-task batch norm cannot apply to a mix of tasks, so it normalises with the batch's own
 * statistics (`batchStatistics`).
 */
export function superpositionContext(candidates: readonly number[], alpha: tf.Tensor1D): ForwardContext {
  if (candidates.length === 0) throw new Error('a superposition needs at least one task');
  return {
    task: candidates[0]!,
    training: false,
    batchStatistics: true,
    weight: (layer: MaskedLayer) => {
      let mix: tf.Tensor | undefined;
      candidates.forEach((task, i) => {
        const term = layer.masks.tensor(task).mul(alpha.slice(i, 1).reshape([]));
        mix = mix ? mix.add(term) : term;
      });
      return effectiveWeight(layer.weight, mix!);
    },
  };
}

/** Context that uses each layer's weight as it is (exported models hold W * M already). */
export function plainContext(task = 0): ForwardContext {
  return { task, training: false, weight: (layer: MaskedLayer) => layer.weight };
}
