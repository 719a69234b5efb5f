import * as tf from '@tensorflow/tfjs';

/**
 * A binary mask of `scores` with the straight-through gradient of edge-popup: the forward keeps
 * what `maskOf` selects (computed on the raw values, no sort in the graph); the backward passes
 * the gradient reaching the mask straight to |scores|, so dL/dS = sign(S) * dL/dM.
 */
export function straightThroughMask(scores: tf.Tensor, maskOf: (values: Float32Array) => Float32Array): tf.Tensor {
  const op = tf.customGrad(((s: tf.Tensor, save: tf.GradSaveFunc) => {
    const values = maskOf(s.dataSync() as Float32Array);
    save([s]);
    return {
      value: tf.tensor(values, s.shape),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => (dy as tf.Tensor).mul(tf.sign(saved[0]!)),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(scores);
}
