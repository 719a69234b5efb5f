import * as tf from '@tensorflow/tfjs-core';

/**
 * Masks computed where the scores live (the GPU on `webgpu`): the same selection as
 * `topKAbsMask` and `unpackBits` in tensor ops, so no scores are read back per step.
 */

/**
 * 0/1 mask (float32, the shape of `scores`) keeping the `k` entries of largest |scores|: the
 * rule of `topKAbsMask` (exactly k ones, entries equal to the k-th largest |score| kept in index
 * order). The threshold is found by `kthLargestTensor` (no sort, no read back); ties are settled
 * by a running count of the entries equal to it. Subnormal scores (|s| < 1.2e-38) may be flushed
 * to zero on a GPU.
 */
export function topKAbsMaskTensor(scores: tf.Tensor, k: number): tf.Tensor {
  const n = scores.size;
  if (k >= n) return tf.ones(scores.shape);
  if (k <= 0) return tf.zeros(scores.shape);
  return tf.tidy(() => {
    const a = tf.abs(scores.reshape([n])) as tf.Tensor1D;
    const threshold = kthLargestTensor(a, k);
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
 * Bits of the threshold decided per pass of `kthLargestTensor` (2^RADIX_BITS - 1 candidates per
 * pass). On lavapipe (LeNet's 235,200 scores) 1 and 2 bits ran several times faster than tf.topk and
 * 4 bits far slower than 2 (15 comparisons per value per pass); 2 halves the passes (dispatches) of
 * 1, which counts on GPUs where dispatch overhead dominates.
 */
const RADIX_BITS = 2;
/** Largest number of candidate comparisons held at once (elements x candidates), to bound the memory of one pass. */
const MAX_PASS_ELEMENTS = 1 << 23;

/** 2^(e - 127) for each biased float32 exponent e (index 0: 2^-126, the scale of subnormals). */
let exponentScales: Float32Array | undefined;

/**
 * The k-th largest value of a 1-D tensor `a` of non-negative float32 values, as a scalar tensor on
 * `a`'s device, found without sorting or reading back: a radix selection on the float32 bit
 * pattern (for values >= 0 the bit order is the value order), most significant bits first. Each
 * pass tries every setting of the next few bits as candidate thresholds, counts the entries >=
 * each candidate (one comparison and one reduction) and keeps the largest candidate with count >=
 * k. Candidates are built from their exponent and mantissa with exact float arithmetic (a table of
 * powers of two times 1 + m / 2^23), so the result is exactly an element of `a`: the k-th largest.
 */
export function kthLargestTensor(a: tf.Tensor1D, k: number): tf.Scalar {
  const n = a.size;
  if (k < 1 || k > n) throw new Error(`kthLargestTensor: k must be in 1..${n}, got ${k}`);
  exponentScales ??= Float32Array.from({ length: 256 }, (_, e) => 2 ** (Math.max(e, 1) - 127));
  let radix = RADIX_BITS;
  while (radix > 1 && n * (2 ** radix - 1) > MAX_PASS_ELEMENTS) radix--;
  return tf.tidy(() => {
    const scales = tf.tensor1d(exponentScales!);
    const row = a.reshape([1, n]);
    const kCount = tf.scalar(k, 'int32');
    // Biased exponent and mantissa of the threshold found so far, as exact small integers in float32.
    let exponent: tf.Tensor = tf.zeros([1]);
    let mantissa: tf.Tensor = tf.zeros([1]);
    // Bit 31 (the sign) is 0 for every value >= 0: the passes decide bits 30..0.
    for (let high = 30; high >= 0; high -= radix) {
      const bits = Math.min(radix, high + 1);
      const shift = high + 1 - bits;
      const digits = Array.from({ length: 2 ** bits }, (_, d) => d * 2 ** shift);
      // Each digit's share of the exponent (bits 30..23) and of the mantissa (bits 22..0); digit 0 adds nothing.
      const addExponent = tf.tensor1d(digits.map((v) => Math.floor(v / 2 ** 23)));
      const addMantissa = tf.tensor1d(digits.map((v) => v % 2 ** 23));
      const e = exponent.add(addExponent.slice(1));
      const m = mantissa.add(addMantissa.slice(1));
      const candidates = candidateValues(scales, e, m).reshape([digits.length - 1, 1]);
      const counts = tf.sum(tf.cast(tf.greaterEqual(row, candidates), 'int32'), 1);
      // Counts fall as the candidates rise: the digit is how many candidates keep at least k entries.
      const digit = tf.sum(tf.cast(tf.greaterEqual(counts, kCount), 'int32')).reshape([1]);
      exponent = exponent.add(tf.gather(addExponent, digit));
      mantissa = mantissa.add(tf.gather(addMantissa, digit));
    }
    return candidateValues(scales, exponent, mantissa).reshape([]) as tf.Scalar;
  });
}

/** The float32 values with biased exponents `e` and mantissas `m` (float tensors of exact integers), computed exactly. */
function candidateValues(scales: tf.Tensor, e: tf.Tensor, m: tf.Tensor): tf.Tensor {
  const scale = tf.gather(scales, tf.cast(e, 'int32'));
  const fraction = m.mul(2 ** -23);
  // Normal: 2^(e-127) * (1 + m/2^23); subnormal (e = 0): 2^-126 * m/2^23.
  return tf.where(tf.equal(e, 0), scale.mul(fraction), scale.mul(fraction.add(1)));
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
