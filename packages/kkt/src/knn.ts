import * as tf from '@tensorflow/tfjs-core';

/**
 * k-nearest-neighbour classification with L2 distance and a majority vote, batched on tfjs
 * tensors: squared distances ||q||^2 + ||r||^2 - 2 q·r by one matMul per query batch, the k
 * nearest by tf.topk. Ties in the vote go to the class whose nearest member is closest.
 *
 * (@tensorflow-models/knn-classifier was considered: it ranks by cosine similarity, not L2
 * distance, and keeps its own per-class example store, so it does not fit.)
 */
export async function knnPredict(
  reference: tf.Tensor2D,
  referenceLabels: Int32Array,
  queries: tf.Tensor2D,
  k: number,
  numClasses: number,
  batchSize = 512,
): Promise<Int32Array> {
  const n = reference.shape[0];
  const kk = Math.max(1, Math.min(k, n));
  const out = new Int32Array(queries.shape[0]);
  const refNorm = tf.tidy(() => reference.square().sum(1).reshape([1, n]));
  try {
    for (let start = 0; start < queries.shape[0]; start += batchSize) {
      const size = Math.min(batchSize, queries.shape[0] - start);
      const indices = tf.tidy(() => {
        const q = queries.slice([start, 0], [size, -1]);
        const d = q.square().sum(1, true).add(refNorm).sub(tf.matMul(q, reference, false, true).mul(2));
        return tf.topk(d.neg(), kk, true).indices;
      });
      const idx = (await indices.data()) as Int32Array;
      indices.dispose();
      const votes = new Int32Array(numClasses);
      const firstRank = new Int32Array(numClasses);
      for (let i = 0; i < size; i++) {
        votes.fill(0);
        firstRank.fill(kk);
        for (let r = 0; r < kk; r++) {
          const label = referenceLabels[idx[i * kk + r]!]!;
          votes[label]!++;
          if (firstRank[label]! > r) firstRank[label] = r;
        }
        let best = 0;
        for (let c = 1; c < numClasses; c++) {
          if (votes[c]! > votes[best]! || (votes[c] === votes[best] && firstRank[c]! < firstRank[best]!)) best = c;
        }
        out[start + i] = best;
      }
    }
  } finally {
    refNorm.dispose();
  }
  return out;
}

/** Accuracy of k-NN fit on the first `fitCount` rows and scored on the rest. */
export async function knnAccuracy(features: tf.Tensor2D, labels: Int32Array, fitCount: number, k: number, numClasses: number): Promise<number> {
  const n = features.shape[0];
  if (fitCount < 1 || fitCount >= n) throw new RangeError(`k-NN needs 1 <= fit count < ${n}, got ${fitCount}`);
  const [fit, held] = tf.split(features, [fitCount, n - fitCount]) as [tf.Tensor2D, tf.Tensor2D];
  try {
    const predicted = await knnPredict(fit, labels.subarray(0, fitCount), held, k, numClasses);
    let correct = 0;
    for (let i = 0; i < predicted.length; i++) if (predicted[i] === labels[fitCount + i]) correct++;
    return correct / predicted.length;
  } finally {
    tf.dispose([fit, held]);
  }
}
