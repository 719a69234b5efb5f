import * as tf from '@tensorflow/tfjs-core';

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

/** `straightThroughTensorMask` with the mask computed on the CPU from the raw score values. */
export function straightThroughMask(scores: tf.Tensor, maskOf: (values: Float32Array) => Float32Array): tf.Tensor {
  return straightThroughTensorMask(scores, (s) => tf.tensor(maskOf(s.dataSync() as Float32Array), s.shape));
}
