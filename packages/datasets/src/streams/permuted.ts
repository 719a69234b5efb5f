/**
 * `permuted`: domain-incremental Permuted-MNIST style stream. Every task holds all classes; task t
 * moves the pixels of every image by its own seeded permutation (the channels of a pixel move
 * together).
 */
import type { JsonSchema, LabeledDataset, Rng, StreamBuilder, TaskStream } from '@supermask/core';
import { buildTaskStream, COMMON_STREAM_PROPERTIES, commonPlanOptions, imageGeometry, type CommonStreamOptions, type ImageTransform } from './common.js';

export interface PermutedStreamOptions extends CommonStreamOptions {
  tasks: number;
  /** Keep task 1 unpermuted (the original images). */
  first_task_identity: boolean;
}

export const PERMUTED_STREAM_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    tasks: { type: 'integer', minimum: 1, default: 10, description: 'Number of tasks' },
    first_task_identity: { type: 'boolean', default: false, description: 'Keep task 1 unpermuted' },
    ...COMMON_STREAM_PROPERTIES,
  },
  additionalProperties: false,
};

/**
 * Pixel permutation of task `task` (0-based), drawn from `rng.child('permutation-<task>')`:
 * output pixel i takes input pixel perm[i].
 */
export function pixelPermutation(rng: Rng, task: number, pixels: number): Int32Array {
  return rng.child(`permutation-${task}`).permutation(pixels);
}

/** An image transform that moves pixel perm[i] (all its channels) to pixel i. */
export function permutationTransform(perm: Int32Array, channels: number): ImageTransform {
  if (channels === 1) {
    return (src, dst) => {
      for (let i = 0; i < perm.length; i++) dst[i] = src[perm[i]];
    };
  }
  return (src, dst) => {
    for (let i = 0; i < perm.length; i++) {
      const from = perm[i] * channels;
      for (let c = 0; c < channels; c++) dst[i * channels + c] = src[from + c];
    }
  };
}

export class PermutedStream implements StreamBuilder {
  constructor(readonly options: PermutedStreamOptions) {}

  build(dataset: LabeledDataset, rng: Rng): TaskStream {
    const { height, width, channels } = imageGeometry(dataset.inputShape, 'permuted');
    const classes = Array.from({ length: dataset.numClasses }, (_, c) => c);
    return buildTaskStream(dataset, rng, {
      name: `permuted ${dataset.name}`,
      ...commonPlanOptions(this.options),
      tasks: Array.from({ length: this.options.tasks }, (_, t) => {
        if (t === 0 && this.options.first_task_identity) return { name: 'task 1: unpermuted', classes };
        const perm = pixelPermutation(rng, t, height * width);
        return { name: `task ${t + 1}: permutation ${t + 1}`, classes, transform: permutationTransform(perm, channels) };
      }),
    });
  }
}
