import { describe, expect, it } from 'vitest';
import { AUGMENTATION_SCHEMA, augmentationFill, augmentBatch, createAjv, isIdentityAugmentation, Rng } from '@supermask/core';
import { CIFAR10 } from '@supermask/datasets';

const H = 6;
const W = 5;
const C = 3;
const SIZE = H * W * C;
const FILL = [-9, -8, -7];

/** `count` images whose values are all distinct and positive: image n, (i, j, c) -> 1000n + 100c + 10i + j + 1. */
function batch(count: number): Float32Array {
  const x = new Float32Array(count * SIZE);
  for (let n = 0; n < count; n++) {
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) for (let c = 0; c < C; c++) x[n * SIZE + (i * W + j) * C + c] = 1000 * n + 100 * c + 10 * i + j + 1;
  }
  return x;
}

/**
 * The reference: pad image n with `fill` by p on every side, take the H x W window at (oy, ox),
 * then mirror it when `flip` (torchvision's RandomCrop(padding=p) + RandomHorizontalFlip).
 */
function reference(x: Float32Array, n: number, p: number, oy: number, ox: number, flip: boolean): Float32Array {
  const PH = H + 2 * p;
  const PW = W + 2 * p;
  const padded = new Float32Array(PH * PW * C);
  for (let i = 0; i < PH; i++) for (let j = 0; j < PW; j++) for (let c = 0; c < C; c++) padded[(i * PW + j) * C + c] = FILL[c];
  for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) for (let c = 0; c < C; c++) padded[((i + p) * PW + j + p) * C + c] = x[n * SIZE + (i * W + j) * C + c];
  const crop = new Float32Array(SIZE);
  for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) for (let c = 0; c < C; c++) crop[(i * W + j) * C + c] = padded[((i + oy) * PW + j + ox) * C + c];
  if (!flip) return crop;
  const out = new Float32Array(SIZE);
  for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) for (let c = 0; c < C; c++) out[(i * W + j) * C + c] = crop[(i * W + (W - 1 - j)) * C + c];
  return out;
}

function imageOf(x: Float32Array, n: number): number[] {
  return Array.from(x.subarray(n * SIZE, (n + 1) * SIZE));
}

describe('augmentBatch', () => {
  const count = 24;
  const x = batch(count);
  const original = Float32Array.from(x);

  it('gives the same output for the same seed, and another for another seed', () => {
    const options = { crop_padding: 2, horizontal_flip: true, fill: FILL };
    const a = augmentBatch(x, count, [H, W, C], new Rng(7), options);
    const b = augmentBatch(x, count, [H, W, C], new Rng(7), options);
    const other = augmentBatch(x, count, [H, W, C], new Rng(8), options);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(other));
    expect(Array.from(x)).toEqual(Array.from(original));
  });

  it('changes nothing and draws nothing when both are off', () => {
    const rng = new Rng(3);
    const before = rng.getState();
    const out = augmentBatch(x, 5, [H, W, C], rng, { crop_padding: 0, horizontal_flip: false, fill: FILL });
    expect(out).not.toBe(x);
    expect(Array.from(out)).toEqual(Array.from(x.subarray(0, 5 * SIZE)));
    expect(rng.getState()).toEqual(before);
    expect(isIdentityAugmentation({ crop_padding: 0, horizontal_flip: false })).toBe(true);
    expect(isIdentityAugmentation({ crop_padding: 4, horizontal_flip: false })).toBe(false);
  });

  it('flips: every image is itself or its mirror, as drawn by rng.next() < 0.5', () => {
    const out = augmentBatch(x, count, [H, W, C], new Rng(11), { crop_padding: 0, horizontal_flip: true, fill: FILL });
    const draws = new Rng(11);
    let flipped = 0;
    for (let n = 0; n < count; n++) {
      const flip = draws.next() < 0.5;
      if (flip) flipped++;
      expect(imageOf(out, n)).toEqual(Array.from(reference(x, n, 0, 0, 0, flip)));
      // A mirrored row reads right to left.
      if (flip) expect(out[n * SIZE + (2 * W + 0) * C + 1]).toBe(x[n * SIZE + (2 * W + (W - 1)) * C + 1]);
    }
    expect(flipped).toBeGreaterThan(0);
    expect(flipped).toBeLessThan(count);
  });

  it('crops: the image shifted by the drawn offsets, the fill value where it comes from the padding', () => {
    const p = 2;
    const out = augmentBatch(x, count, [H, W, C], new Rng(5), { crop_padding: p, horizontal_flip: false, fill: FILL });
    const draws = new Rng(5);
    const shifts = new Set<string>();
    let filled = 0;
    for (let n = 0; n < count; n++) {
      const oy = draws.int(2 * p + 1);
      const ox = draws.int(2 * p + 1);
      shifts.add(`${oy - p},${ox - p}`);
      expect(imageOf(out, n)).toEqual(Array.from(reference(x, n, p, oy, ox, false)));
      for (let k = 0; k < SIZE; k++) if (out[n * SIZE + k] === FILL[k % C]) filled++;
    }
    expect(shifts.size).toBeGreaterThan(5);
    expect(filled).toBeGreaterThan(0);
    // A fixed draw, oy = 1 and ox = 0: the content moves down by 1 and right by 2, so row 0 is fill,
    // (1, 0) and (1, 1) are fill and (1, 2) holds input pixel (0, 0).
    const fixed = [1, 0];
    const one = augmentBatch(x, 1, [H, W, C], { int: () => fixed.shift() } as unknown as Rng, { crop_padding: p, horizontal_flip: false, fill: FILL });
    expect(Array.from(one.subarray(0, W * C))).toEqual(Array.from({ length: W * C }, (_, k) => FILL[k % C]));
    expect(Array.from(one.subarray((1 * W + 0) * C, (1 * W + 2) * C))).toEqual([...FILL, ...FILL]);
    expect(Array.from(one.subarray((1 * W + 2) * C, (1 * W + 3) * C))).toEqual([1, 101, 201]);
  });

  it('crops then flips, like RandomCrop + RandomHorizontalFlip, drawing oy, ox, flip per image', () => {
    const p = 4;
    const out = augmentBatch(x, count, [H, W, C], new Rng(21), { crop_padding: p, horizontal_flip: true, fill: FILL });
    const draws = new Rng(21);
    for (let n = 0; n < count; n++) {
      const oy = draws.int(2 * p + 1);
      const ox = draws.int(2 * p + 1);
      const flip = draws.next() < 0.5;
      expect(imageOf(out, n)).toEqual(Array.from(reference(x, n, p, oy, ox, flip)));
    }
  });

  it('fills with the normalised black of the dataset and checks its arguments', () => {
    const fill = augmentationFill(CIFAR10.normalization);
    expect(fill).toHaveLength(3);
    expect(fill[0]).toBeCloseTo(-0.4914 / 0.247, 10);
    expect(fill[2]).toBeCloseTo(-0.4465 / 0.2616, 10);
    expect(augmentationFill({ mean: [0.5], std: [0.25] }, 1)).toEqual([2]);
    expect(() => augmentBatch(x, count, [H, W, C], new Rng(0), { crop_padding: 1, horizontal_flip: false, fill: [0] })).toThrow(/one value per channel/);
    expect(() => augmentBatch(x, count + 1, [H, W, C], new Rng(0), { crop_padding: 1, horizontal_flip: false, fill: FILL })).toThrow(RangeError);
    expect(() => augmentBatch(x, 1, [H, W, C], new Rng(0), { crop_padding: -1, horizontal_flip: false, fill: FILL })).toThrow(/crop_padding/);
  });

  it('has a JSON schema fragment with defaults', () => {
    const validate = createAjv().compile(AUGMENTATION_SCHEMA);
    const config: Record<string, unknown> = {};
    expect(validate(config)).toBe(true);
    expect(config).toEqual({ crop_padding: 0, horizontal_flip: false });
    expect(validate({ crop_padding: 4, horizontal_flip: true })).toBe(true);
    expect(validate({ crop_padding: -1 })).toBe(false);
    expect(validate({ crop_padding: 4, flip: true })).toBe(false);
  });
});
