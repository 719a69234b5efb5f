/**
 * The building logic shared by every stream: select a task's examples, take a seeded subset,
 * transform each image, remap labels, normalise.
 */
import {
  ConfigError,
  DataError,
  inputSize,
  type JsonSchema,
  type LabeledDataset,
  type Rng,
  type Split,
  type Task,
  type TaskStream,
} from '@supermask/core';

/** Options every stream accepts. */
export interface CommonStreamOptions {
  /** At most this many training examples per task: a seeded random subset (all when absent). */
  train_per_task?: number;
  /** At most this many test examples per task: a seeded random subset (all when absent). */
  test_per_task?: number;
  /** Zero-pad every image (centred) to [height, width], before normalisation (no padding when absent). */
  pad_to?: number[];
}

/** JSON Schema properties of `CommonStreamOptions`. */
export const COMMON_STREAM_PROPERTIES: Record<string, JsonSchema> = {
  train_per_task: {
    type: 'integer',
    minimum: 1,
    description: 'Training examples per task: a seeded random subset, kept in dataset order (default: all)',
  },
  test_per_task: {
    type: 'integer',
    minimum: 1,
    description: 'Test examples per task: a seeded random subset, kept in dataset order (default: all)',
  },
  pad_to: {
    type: 'array',
    items: { type: 'integer', minimum: 1 },
    minItems: 2,
    maxItems: 2,
    description:
      'Zero-pad every image, centred, to [height, width] (black in [0, 1] pixel space, before normalisation; e.g. [32, 32] for 28x28 Fashion-MNIST); the stream input shape becomes [height, width, channels] (default: no padding)',
  },
};

/** The common options of a stream, as `buildTaskStream` takes them in its plan. */
export function commonPlanOptions(options: CommonStreamOptions): CommonStreamOptions {
  return { train_per_task: options.train_per_task, test_per_task: options.test_per_task, pad_to: options.pad_to };
}

/**
 * Transforms one image (`src`, HWC, values in [0, 1]) into `dst` (same size, zero-filled).
 * Must not read `dst` or write `src`.
 */
export type ImageTransform = (src: Float32Array, dst: Float32Array) => void;

/** One task to build. */
export interface TaskPlan {
  name: string;
  /** Original class ids covered by the task, in head order (label classes[i] becomes i). */
  classes: number[];
  /** Applied to every image of the task (after subsetting, before normalisation). */
  transform?: ImageTransform;
}

export interface StreamPlan extends CommonStreamOptions {
  name: string;
  tasks: TaskPlan[];
}

/**
 * Builds a stream from per-task plans. For task t (0-based): keeps the examples whose label is one
 * of the task's classes (in dataset order), subsets them with `rng.child('subset-<t>')` (its
 * children 'train' and 'test'), applies the task's transform, remaps labels to 0..k-1 and
 * normalises with the dataset's per-channel mean and std.
 */
export function buildTaskStream(dataset: LabeledDataset, rng: Rng, plan: StreamPlan): TaskStream {
  checkNormalization(dataset);
  const pad = plan.pad_to ? padding(dataset.inputShape, plan.pad_to, plan.name) : undefined;
  const shape = pad ? pad.shape : [...dataset.inputShape];
  const tasks: Task[] = plan.tasks.map((taskPlan, t) => {
    for (const c of taskPlan.classes) {
      if (!Number.isInteger(c) || c < 0 || c >= dataset.numClasses) {
        throw new ConfigError(`task ${t + 1} of stream "${plan.name}" names class ${c}, but ${dataset.name} has classes 0..${dataset.numClasses - 1}`);
      }
    }
    const subsetRng = rng.child(`subset-${t}`);
    return {
      index: t,
      name: taskPlan.name,
      classes: [...taskPlan.classes],
      inputShape: [...shape],
      train: buildSplit(dataset, dataset.train, taskPlan, plan.train_per_task, subsetRng.child('train'), pad),
      test: buildSplit(dataset, dataset.test, taskPlan, plan.test_per_task, subsetRng.child('test'), pad),
    };
  });
  return {
    name: plan.name,
    inputShape: shape,
    numClasses: Math.max(0, ...plan.tasks.map((t) => t.classes.length)),
    tasks,
  };
}

function buildSplit(dataset: LabeledDataset, source: Split, plan: TaskPlan, limit: number | undefined, rng: Rng, pad: Padding | undefined): Split {
  const size = inputSize(dataset.inputShape);
  const outShape = pad ? pad.shape : dataset.inputShape;
  const outSize = inputSize(outShape);
  const headOf = new Int32Array(dataset.numClasses).fill(-1);
  plan.classes.forEach((c, i) => (headOf[c] = i));
  let indices = selectIndices(source.y, source.n, headOf);
  if (limit !== undefined) indices = sampleSorted(indices, limit, rng);
  const n = indices.length;
  const x = new Float32Array(n * outSize);
  const y = new Int32Array(n);
  // With padding, the task's transform writes into a zeroed scratch image of the original size.
  const scratch = pad && plan.transform ? new Float32Array(size) : undefined;
  for (let i = 0; i < n; i++) {
    const from = indices[i] * size;
    const src = source.x.subarray(from, from + size);
    const dst = x.subarray(i * outSize, (i + 1) * outSize);
    if (pad) {
      let image = src;
      if (plan.transform && scratch) {
        scratch.fill(0);
        plan.transform(src, scratch);
        image = scratch;
      }
      pad.transform(image, dst);
    } else if (plan.transform) plan.transform(src, dst);
    else dst.set(src);
    y[i] = headOf[source.y[indices[i]]];
  }
  normalizeInPlace(x, outShape, dataset.normalization);
  return { x, y, n };
}

interface Padding {
  /** Shape of a padded image. */
  shape: number[];
  transform: (src: Float32Array, dst: Float32Array) => void;
}

function padding(inputShape: readonly number[], padTo: readonly number[], stream: string): Padding {
  const { height, width, channels } = imageGeometry(inputShape, stream);
  const [toHeight, toWidth] = padTo;
  if (padTo.length !== 2 || !(toHeight >= height) || !(toWidth >= width)) {
    throw new ConfigError(`invalid padding of stream "${stream}"`, [
      `stream.options.pad_to: [${padTo.join(', ')}] is smaller than the images (${height}x${width}); expected [height, width] with height >= ${height} and width >= ${width}`,
    ]);
  }
  const shape = inputShape.length === 2 ? [toHeight, toWidth] : [toHeight, toWidth, channels];
  return { shape, transform: padTransform(height, width, channels, toHeight, toWidth) };
}

/**
 * An image transform from [height, width, channels] to [toHeight, toWidth, channels]: the image
 * centred (top = floor((toHeight - height) / 2), left = floor((toWidth - width) / 2)), zero
 * around it. `dst` must be zero-filled (or hold zeros outside the image).
 */
export function padTransform(height: number, width: number, channels: number, toHeight: number, toWidth: number): ImageTransform {
  if (toHeight < height || toWidth < width) {
    throw new RangeError(`padTransform: cannot pad ${height}x${width} to the smaller ${toHeight}x${toWidth}`);
  }
  const top = Math.floor((toHeight - height) / 2);
  const left = Math.floor((toWidth - width) / 2);
  const row = width * channels;
  const outRow = toWidth * channels;
  return (src, dst) => {
    for (let i = 0; i < height; i++) {
      dst.set(src.subarray(i * row, (i + 1) * row), (top + i) * outRow + left * channels);
    }
  };
}

/** Indices (ascending) of the examples whose label has a head (headOf[label] >= 0). */
function selectIndices(labels: Int32Array, n: number, headOf: Int32Array): Int32Array {
  let count = 0;
  for (let i = 0; i < n; i++) if (headOf[labels[i]] >= 0) count++;
  const out = new Int32Array(count);
  let k = 0;
  for (let i = 0; i < n; i++) if (headOf[labels[i]] >= 0) out[k++] = i;
  return out;
}

/**
 * A random subset of `k` of `indices` drawn without replacement (partial Fisher-Yates), returned
 * in ascending order. All of `indices` when k >= their number.
 */
export function sampleSorted(indices: Int32Array, k: number, rng: Rng): Int32Array {
  if (k >= indices.length) return indices;
  const pool = Int32Array.from(indices);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(pool.length - i);
    const tmp = pool[i];
    pool[i] = pool[j];
    pool[j] = tmp;
  }
  return pool.slice(0, k).sort();
}

/** (x - mean[c]) / std[c] for every value, c = the channel (last axis of an HWC image). */
export function normalizeInPlace(x: Float32Array, inputShape: readonly number[], normalization: { mean: number[]; std: number[] }): void {
  const channels = channelsOf(inputShape);
  const { mean, std } = normalization;
  for (let c = 0; c < channels; c++) {
    const m = mean[c];
    const s = std[c];
    for (let i = c; i < x.length; i += channels) x[i] = (x[i] - m) / s;
  }
}

function checkNormalization(dataset: LabeledDataset): void {
  const channels = channelsOf(dataset.inputShape);
  const { mean, std } = dataset.normalization;
  if (mean.length !== channels || std.length !== channels || std.some((s) => !(s > 0))) {
    throw new DataError(
      `dataset ${dataset.name}: normalization needs one mean and one positive std per channel (${channels}), got mean [${mean.join(', ')}] and std [${std.join(', ')}]`,
    );
  }
}

/** Channels of an HWC input shape: its last axis for [H, W, C], else 1. */
export function channelsOf(inputShape: readonly number[]): number {
  return inputShape.length >= 3 ? inputShape[inputShape.length - 1] : 1;
}

/** The `channels` and pixel grid of an HWC input shape ([H, W, C]; [H, W] means one channel). */
export function imageGeometry(inputShape: readonly number[], stream: string): { height: number; width: number; channels: number } {
  if (inputShape.length === 3) return { height: inputShape[0], width: inputShape[1], channels: inputShape[2] };
  if (inputShape.length === 2) return { height: inputShape[0], width: inputShape[1], channels: 1 };
  throw new ConfigError(`stream "${stream}" needs image inputs of shape [height, width, channels], got [${inputShape.join(', ')}]`);
}
