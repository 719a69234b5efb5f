import type { LayerShape } from './contracts.js';

export type DensityAllocation = 'uniform' | 'er';

/**
 * Per-layer densities whose weighted mean is `density`.
 * - `uniform`: every layer keeps the same fraction.
 * - `er` (Erdős–Rényi, kernel form as in RigL): layer l keeps a fraction proportional to
 *   sum(shape_l) / prod(shape_l), so small layers are denser; layers that would exceed 1 are
 *   capped at 1 and the rest re-scaled, so the total number kept stays density * total.
 */
export function allocateDensities(layers: readonly LayerShape[], density: number, allocation: DensityAllocation): number[] {
  if (!(density > 0 && density <= 1)) throw new RangeError(`density must be in (0, 1], got ${density}`);
  if (allocation === 'uniform') return layers.map(() => density);
  const total = layers.reduce((s, l) => s + l.size, 0);
  const raw = layers.map((l) => l.shape.reduce((a, b) => a + b, 0) / l.size);
  const dense = new Set<number>();
  for (;;) {
    let budget = density * total;
    let weighted = 0;
    layers.forEach((l, i) => {
      if (dense.has(i)) budget -= l.size;
      else weighted += raw[i]! * l.size;
    });
    const eps = weighted > 0 ? budget / weighted : 0;
    let changed = false;
    layers.forEach((_, i) => {
      if (!dense.has(i) && eps * raw[i]! > 1) {
        dense.add(i);
        changed = true;
      }
    });
    if (!changed) return layers.map((_, i) => (dense.has(i) ? 1 : Math.max(0, eps * raw[i]!)));
  }
}
