/**
 * Training-time augmentation of a batch of (already normalised) HWC images: the random crop with
 * zero padding and the horizontal flip the papers use for CIFAR. It runs per batch, so every epoch
 * sees fresh crops; streams never apply it.
 */
import type { JsonSchema } from './registry.js';
import type { Rng } from './rng.js';

/** The config part of the augmentation (what a user writes). */
export interface AugmentationConfig {
  /** Pixels of padding on every side before the random crop back to the image size; 0 = no crop. */
  crop_padding: number;
  /** Mirror each image left-right with probability 1/2. */
  horizontal_flip: boolean;
}

/** Everything `augmentBatch` needs: the config and the per-channel value of padded pixels. */
export interface AugmentationOptions extends AugmentationConfig {
  /**
   * Value of the pixels the crop brings in from outside the image, one per channel. Images reach
   * the runner normalised, so a black pixel is (0 - mean[c]) / std[c]: see `augmentationFill`.
   */
  fill: readonly number[];
}

/** JSON Schema of `AugmentationConfig` (for an `augmentation` field of the run config). */
export const AUGMENTATION_SCHEMA: JsonSchema = {
  type: 'object',
  description:
    'Training augmentation, drawn afresh for every training batch (never for evaluation): random crop of the image zero-padded by crop_padding pixels, then a horizontal flip',
  properties: {
    crop_padding: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description: 'Pad each image by this many black pixels on every side and crop it back to its size at a random offset (0: no crop; the papers use 4 for CIFAR)',
    },
    horizontal_flip: { type: 'boolean', default: false, description: 'Mirror each image left-right with probability 1/2' },
  },
  additionalProperties: false,
};

/**
 * The normalised value of a pixel of value `pixel` (in [0, 1] space, default 0 = black) for every
 * channel: (pixel - mean[c]) / std[c]. The `fill` of `augmentBatch` for a dataset's normalisation.
 */
export function augmentationFill(normalization: { mean: readonly number[]; std: readonly number[] }, pixel = 0): number[] {
  return normalization.mean.map((m, c) => (pixel - m) / normalization.std[c]);
}

/** True when `options` change nothing (no crop, no flip). */
export function isIdentityAugmentation(options: AugmentationConfig): boolean {
  return options.crop_padding === 0 && !options.horizontal_flip;
}

/**
 * Augments the first `count` images of `x` (each HWC of `shape` = [H, W, C], row-major: a task's
 * `inputShape`) and returns them in a new array (`x` is not modified). For every image, in order,
 * it draws from `rng`:
 *
 * 1. when `crop_padding` p > 0: the crop offsets oy = rng.int(2p + 1), then ox = rng.int(2p + 1)
 *    in the image padded by p on every side (p, p = the image unchanged);
 * 2. when `horizontal_flip`: flip = rng.next() < 0.5.
 *
 * Output pixel (i, j) is input pixel (i + oy - p, j' + ox - p) with j' = W - 1 - j when flipped
 * (crop, then flip, as torchvision's RandomCrop + RandomHorizontalFlip), and `fill[c]` where that
 * falls outside the image. With neither option it returns a copy and draws nothing.
 */
export function augmentBatch(x: Float32Array, count: number, shape: readonly number[], rng: Rng, options: AugmentationOptions): Float32Array {
  if (shape.length !== 3 && shape.length !== 2) {
    throw new RangeError(`augmentBatch: shape must be [height, width, channels] (or [height, width]), got [${shape.join(', ')}]`);
  }
  const [height, width] = shape;
  const channels = shape.length === 3 ? shape[2] : 1;
  const size = height * width * channels;
  const p = options.crop_padding;
  if (!Number.isInteger(count) || count < 0 || x.length < count * size) {
    throw new RangeError(`augmentBatch: ${count} images of ${height}x${width}x${channels} need ${count * size} values, x has ${x.length}`);
  }
  if (!Number.isInteger(p) || p < 0) throw new RangeError(`augmentBatch: crop_padding must be an integer >= 0, got ${p}`);
  if (options.fill.length !== channels) {
    throw new RangeError(`augmentBatch: fill needs one value per channel (${channels}), got ${options.fill.length}`);
  }
  const out = new Float32Array(count * size);
  if (isIdentityAugmentation(options)) {
    out.set(x.subarray(0, count * size));
    return out;
  }
  const fill = options.fill;
  const rowValues = width * channels;
  for (let n = 0; n < count; n++) {
    const dy = p > 0 ? rng.int(2 * p + 1) - p : 0;
    const dx = p > 0 ? rng.int(2 * p + 1) - p : 0;
    const flip = options.horizontal_flip ? rng.next() < 0.5 : false;
    const base = n * size;
    for (let i = 0; i < height; i++) {
      const si = i + dy;
      const rowOut = base + i * rowValues;
      if (si < 0 || si >= height) {
        for (let j = 0; j < width; j++) for (let c = 0; c < channels; c++) out[rowOut + j * channels + c] = fill[c];
        continue;
      }
      const rowIn = base + si * rowValues;
      for (let j = 0; j < width; j++) {
        const sj = (flip ? width - 1 - j : j) + dx;
        const o = rowOut + j * channels;
        if (sj < 0 || sj >= width) {
          for (let c = 0; c < channels; c++) out[o + c] = fill[c];
        } else {
          const s = rowIn + sj * channels;
          for (let c = 0; c < channels; c++) out[o + c] = x[s + c];
        }
      }
    }
  }
  return out;
}
