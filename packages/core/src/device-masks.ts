import * as tf from '@tensorflow/tfjs';

/**
 * Masks computed where the scores live (the GPU on `webgpu`): the same selection as
 * `topKAbsMask` and `unpackBits` in tensor ops, so no scores are read back per step.
 */

/**
 * 0/1 mask (float32, the shape of `scores`) keeping the `k` entries of largest |scores|: the
 * rule of `topKAbsMask` (exactly k ones, entries equal to the k-th largest |score| kept in index
 * order). The threshold comes from `tf.topk`; ties are settled by a running count of the entries
 * equal to it, so the result does not depend on how `tf.topk` orders equal values. Subnormal
 * scores (|s| < 1.2e-38) may be flushed to zero on a GPU.
 */
export function topKAbsMaskTensor(scores: tf.Tensor, k: number): tf.Tensor {
  const n = scores.size;
  if (k >= n) return tf.ones(scores.shape);
  if (k <= 0) return tf.zeros(scores.shape);
  return tf.tidy(() => {
    const a = tf.abs(scores.reshape([n]));
    const threshold = tf.min(tf.topk(a, k, false).values);
    const above = tf.greater(a, threshold);
    const atThreshold = tf.equal(a, threshold);
    // Entries above the threshold are all kept; k - (their count) of the equal ones, first ones first.
    const tiesKept = tf.sub(tf.scalar(k, 'int32'), tf.sum(tf.cast(above, 'int32')));
    const rank = tf.cumsum(tf.cast(atThreshold, 'int32'));
    const keep = tf.logicalOr(above, tf.logicalAnd(atThreshold, tf.lessEqual(rank, tiesKept)));
    return asFloatMask(keep).reshape(scores.shape);
  });
}

/**
 * A bool tensor as 0/1 float32. `tf.where`, not `tf.cast`: on the webgpu backend a cast from
 * bool shares the bool buffer, and `data()` of it returns a Uint8Array.
 */
function asFloatMask(keep: tf.Tensor): tf.Tensor {
  return tf.where(keep, tf.ones(keep.shape), tf.zeros(keep.shape));
}

/** Bits per uploaded word: 16 keeps every word a small positive int32 (exact in any int or float path). */
const WORD_BITS = 16;

/**
 * A bit-packed mask (`packBits` layout: LSB first within each byte) unpacked on the backend's
 * device into a 0/1 float32 tensor of `shape`: the upload is the packed bits (2 bytes of int32
 * per 16 weights), not the float mask.
 */
export function unpackBitsTensor(packed: Uint8Array, shape: number[]): tf.Tensor {
  const length = shape.reduce((a, b) => a * b, 1);
  if (packed.length !== Math.ceil(length / 8)) throw new Error(`a packed mask of ${length} bits needs ${Math.ceil(length / 8)} bytes, got ${packed.length}`);
  const words = new Int32Array(Math.ceil(length / WORD_BITS));
  for (let i = 0; i < packed.length; i++) words[i >>> 1]! |= packed[i]! << ((i & 1) * 8);
  return tf.tidy(() => {
    const index = tf.range(0, length, 1, 'int32');
    const wordBits = tf.scalar(WORD_BITS, 'int32');
    const word = tf.gather(tf.tensor1d(words, 'int32'), tf.floorDiv(index, wordBits));
    const powers = tf.tensor1d(Int32Array.from({ length: WORD_BITS }, (_, b) => 1 << b), 'int32');
    const bit = tf.mod(tf.floorDiv(word, tf.gather(powers, tf.mod(index, wordBits))), tf.scalar(2, 'int32'));
    return asFloatMask(tf.equal(bit, tf.scalar(1, 'int32'))).reshape(shape);
  });
}
