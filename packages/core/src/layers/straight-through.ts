import * as tf from '@tensorflow/tfjs-core';
import { effectiveWeight } from '../contexts.js';

/**
 * A binary mask of `scores` with the straight-through gradient of edge-popup: the forward keeps
 * what `maskOf` selects (a tensor op, computed where the scores live; no sort in the graph); the
 * backward passes the gradient reaching the mask straight to |scores|, so dL/dS = sign(S) * dL/dM.
 */
export function straightThroughTensorMask(scores: tf.Tensor, maskOf: (scores: tf.Tensor) => tf.Tensor): tf.Tensor {
  const op = tf.customGrad(((s: tf.Tensor, save: tf.GradSaveFunc) => {
    save([s]);
    return {
      value: maskOf(s),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => (dy as tf.Tensor).mul(tf.sign(saved[0]!)),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(scores);
}

/**
 * Kernel name of the straight-through gradient of a masked weight, dL/dS = dy * W * sign(S)
 * (inputs dy, weight, scores; float32 of one shape): a backend may register it to compute the
 * three products in one pass (@supermask/kernels-ort's cpu-ort does), with the same float32
 * roundings as dy.mul(W).mul(sign(S)).
 */
export const STRAIGHT_THROUGH_GRAD_KERNEL = 'SupermaskStraightThroughGrad';

/**
 * The effective weight W * mask(S) (core's `effectiveWeight`) with edge-popup's straight-through
 * gradient to the scores only: dL/dS = dL/d(W * M) * W * sign(S), what `straightThroughMask`'s
 * mask multiplied by W gives the scores, by one kernel where the backend registers
 * STRAIGHT_THROUGH_GRAD_KERNEL (else the same tensor ops). `weight` gets no gradient: use it
 * while the weight is not trained.
 */
export function straightThroughProduct(weight: tf.Tensor, scores: tf.Tensor, maskOf: (values: Float32Array) => Float32Array): tf.Tensor {
  const op = tf.customGrad(((s: tf.Tensor, save: tf.GradSaveFunc) => {
    save([s]);
    return {
      value: effectiveWeight(weight, tf.tensor(maskOf(s.dataSync() as Float32Array), s.shape)),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor;
        if (tf.getKernel(STRAIGHT_THROUGH_GRAD_KERNEL, tf.getBackend())) {
          return tf.engine().runKernel(STRAIGHT_THROUGH_GRAD_KERNEL, { dy: g, weight, scores: saved[0]! }, {}) as tf.Tensor;
        }
        return g.mul(weight).mul(tf.sign(saved[0]!));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(scores);
}

/** `straightThroughTensorMask` with the mask computed on the CPU from the raw score values. */
export function straightThroughMask(scores: tf.Tensor, maskOf: (values: Float32Array) => Float32Array): tf.Tensor {
  return straightThroughTensorMask(scores, (s) => tf.tensor(maskOf(s.dataSync() as Float32Array), s.shape));
}
