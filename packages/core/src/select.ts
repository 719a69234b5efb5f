/**
 * Top-k selection without a full sort: the k-th largest |score| by a radix step on the float
 * bits and quickselect (O(n)), then a mask that keeps exactly k entries (ties at the threshold
 * are kept in index order).
 */

/** The k-th largest value (1-based k) of `values`; `values` is reordered in place. */
export function kthLargestInPlace(values: Float32Array, k: number): number {
  const n = values.length;
  if (k < 1 || k > n) throw new RangeError(`k must be in 1..${n}, got ${k}`);
  // The k-th largest is the (n - k)-th smallest (0-based).
  const target = n - k;
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    // Median of three as the pivot keeps sorted and constant inputs linear.
    const mid = (lo + hi) >>> 1;
    const a = values[lo], b = values[mid], c = values[hi];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    // Three-way partition: [lo, lt) < pivot, [lt, gt] == pivot, (gt, hi] > pivot.
    let lt = lo, i = lo, gt = hi;
    while (i <= gt) {
      const v = values[i];
      if (v < pivot) {
        values[i] = values[lt];
        values[lt] = v;
        lt++;
        i++;
      } else if (v > pivot) {
        values[i] = values[gt];
        values[gt] = v;
        gt--;
      } else {
        i++;
      }
    }
    if (target < lt) hi = lt - 1;
    else if (target > gt) lo = gt + 1;
    else return pivot;
  }
  return values[target];
}

/** Number of entries a layer of `size` weights keeps at `density`: round(density * size), at least 1. */
export function keptCount(size: number, density: number): number {
  return Math.min(size, Math.max(1, Math.round(density * size)));
}

/** Histogram of the top 15 bits of |x| (exponent and 7 mantissa bits) for the radix step of topKAbsMask. */
const RADIX_SHIFT = 16;
const histogram = new Uint32Array(1 << (31 - RADIX_SHIFT));
const bitsOf = new Uint32Array(1);
const floatOf = new Float32Array(bitsOf.buffer);

/**
 * 0/1 mask keeping the `k` entries of largest |scores|. Exactly k ones, ties broken by index.
 * `scratch` (same length) avoids an allocation per call.
 *
 * For non-negative floats the IEEE bit patterns sort like the values, so the threshold is found
 * by one radix step (a histogram of the top bits of |score| picks the bucket holding the k-th
 * largest), then quickselect among that bucket's few values: three linear passes in all,
 * no sort, no data-dependent reordering of the whole array.
 */
export function topKAbsMask(scores: Float32Array, k: number, out?: Float32Array, scratch?: Float32Array): Float32Array {
  const n = scores.length;
  const mask = out ?? new Float32Array(n);
  if (k >= n) return mask.fill(1);
  if (k <= 0) return mask.fill(0);
  const bits = new Uint32Array(scores.buffer, scores.byteOffset, n);
  const hist = histogram;
  hist.fill(0);
  for (let i = 0; i < n; i++) hist[(bits[i]! & 0x7fffffff) >>> RADIX_SHIFT]!++;
  // The bucket holding the k-th largest |score|, and how many lie in buckets above it.
  let bucket = hist.length - 1;
  let above = 0;
  for (; bucket > 0; bucket--) {
    const h = hist[bucket]!;
    if (above + h >= k) break;
    above += h;
  }
  const candidates = scratch ?? new Float32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    if ((bits[i]! & 0x7fffffff) >>> RADIX_SHIFT === bucket) candidates[m++] = Math.abs(scores[i]!);
  }
  const inBucket = candidates.subarray(0, m);
  const threshold = kthLargestInPlace(inBucket, k - above);
  let equal = 0;
  for (let i = 0; i < m; i++) {
    if (inBucket[i]! > threshold) above++;
    else if (inBucket[i] === threshold) equal++;
  }
  floatOf[0] = threshold;
  const t = bitsOf[0]!;
  let ties = k - above;
  if (ties === equal) {
    // Every value equal to the threshold is kept: one comparison per entry, branch-free (a branch
    // on random scores mispredicts: 25% of the selection's time on the ResNet-18 layers).
    for (let i = 0; i < n; i++) mask[i] = Number((bits[i]! & 0x7fffffff) >= t);
    return mask;
  }
  for (let i = 0; i < n; i++) {
    const a = bits[i]! & 0x7fffffff;
    if (a > t) mask[i] = 1;
    else if (a === t && ties > 0) {
      mask[i] = 1;
      ties--;
    } else mask[i] = 0;
  }
  return mask;
}
