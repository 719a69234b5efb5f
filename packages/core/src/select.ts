/**
 * Top-k selection without a full sort: the k-th largest |score| by quickselect (O(n) expected),
 * then a mask that keeps exactly k entries (ties at the threshold are kept in index order).
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

/**
 * 0/1 mask keeping the `k` entries of largest |scores|. Exactly k ones, ties broken by index.
 * `scratch` (same length) avoids an allocation per call.
 */
export function topKAbsMask(scores: Float32Array, k: number, out?: Float32Array, scratch?: Float32Array): Float32Array {
  const n = scores.length;
  const mask = out ?? new Float32Array(n);
  if (k >= n) return mask.fill(1);
  if (k <= 0) return mask.fill(0);
  const abs = scratch ?? new Float32Array(n);
  for (let i = 0; i < n; i++) abs[i] = Math.abs(scores[i]);
  const threshold = kthLargestInPlace(abs, k);
  let above = 0;
  for (let i = 0; i < n; i++) if (Math.abs(scores[i]) > threshold) above++;
  let ties = k - above;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(scores[i]);
    if (a > threshold) mask[i] = 1;
    else if (a === threshold && ties > 0) {
      mask[i] = 1;
      ties--;
    } else mask[i] = 0;
  }
  return mask;
}
