import * as tf from '@tensorflow/tfjs-core';
import type { ForwardContext } from './contracts.js';
import type { MaskedLayer } from './layers/masked-layer.js';
import { isMaskedGradient } from './layers/conv-bn.js';

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
 * task's scores (a task whose mask a phase set, or without scores, uses that fixed mask); see
 * `LayerMasks.weightWithGradient`.
 */
export function trainingContext(task: number): ForwardContext {
  return { task, training: true, weight: (layer: MaskedLayer) => layer.masks.weightWithGradient(task, layer.weight) };
}

/** Context with task `task`'s fixed (cached or bit-packed) mask; `training` updates its batch-norm statistics. */
export function fixedContext(task: number, training = false): ForwardContext {
  return { task, training, weight: (layer: MaskedLayer) => effectiveWeight(layer.weight, layer.masks.tensor(task)) };
}

/**
 * Context of a weight phase of task `task`: its fixed mask, batch-norm statistics updated, and the
 * gradient reaching the weight of each layer in `gradientMasks` multiplied by that layer's 0/1
 * tensor there (the task's mask times the weights the task may change), in one product: the same
 * values as the product rule's dL/dW = dL/d(W * M) * M followed by a multiplication by the
 * editable set, with one full-size multiply a layer and step fewer. Layers not in the map get
 * `fixedContext`'s effective weight.
 */
export function weightTrainingContext(task: number, gradientMasks: ReadonlyMap<MaskedLayer, tf.Tensor>): ForwardContext {
  return {
    task,
    training: true,
    weight: (layer: MaskedLayer) => {
      const mask = layer.masks.tensor(task);
      const gradientMask = gradientMasks.get(layer);
      if (!gradientMask) return effectiveWeight(layer.weight, mask);
      const op = tf.customGrad(((w: tf.Tensor) => ({
        value: effectiveWeight(w, mask),
        // A fused unit's filter gradient comes multiplied by the mask already (isMaskedGradient).
        gradFunc: (dy: tf.Tensor | tf.Tensor[]) => (isMaskedGradient(dy as tf.Tensor) ? (dy as tf.Tensor).clone() : (dy as tf.Tensor).mul(gradientMask)),
      })) as unknown as Parameters<typeof tf.customGrad>[0]);
      return op(layer.weight);
    },
    gradientMask: (layer: MaskedLayer) => gradientMasks.get(layer),
  };
}

/**
 * Superposition of learned tasks' masks: W * sum_i alpha_i M_{candidates[i]} (task inference).
 * Each layer's mix is one [1, k] x [k, size] product of alpha and the stacked masks (a constant
 * number of ops whatever k), computed once per context: every forward pass through the context
 * (e.g. a batch and a scrambled copy, inside one gradient) reuses it, and a mix disposed by an
 * enclosing tidy is computed again. Per-task batch norm cannot apply to a mix of tasks, so it
 * normalises with the batch's own statistics (`batchStatistics`).
 */
export function superpositionContext(candidates: readonly number[], alpha: tf.Tensor1D): ForwardContext {
  if (candidates.length === 0) throw new Error('a superposition needs at least one task');
  if (alpha.size !== candidates.length) throw new Error(`a superposition of ${candidates.length} tasks needs ${candidates.length} coefficients, got ${alpha.size}`);
  const mixed = new Map<MaskedLayer, tf.Tensor>();
  return {
    task: candidates[0]!,
    training: false,
    batchStatistics: true,
    weight: (layer: MaskedLayer) => {
      let weight = mixed.get(layer);
      if (!weight || weight.isDisposed) {
        const masks = tf.stack(candidates.map((task) => layer.masks.tensor(task).reshape([-1])));
        weight = effectiveWeight(layer.weight, alpha.reshape([1, -1]).matMul(masks).reshape(layer.weight.shape));
        mixed.set(layer, weight);
      }
      return weight;
    },
  };
}

/** Context that uses each layer's weight as it is (exported models hold W * M already). */
export function plainContext(task = 0): ForwardContext {
  return { task, training: false, weight: (layer: MaskedLayer) => layer.weight };
}
