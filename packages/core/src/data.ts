import type { BackboneSpec } from './contracts.js';

/**
 * Data contracts shared by datasets, streams and the runner.
 * Images are stored flat (row-major, NHWC for one image) in Float32Array.
 */

/** A labelled split: `n` examples, each `x` row of `inputSize` floats. */
export interface Split {
  /** n * inputSize values, row-major. */
  x: Float32Array;
  /** n labels. For a task these are remapped to 0..classes.length-1. */
  y: Int32Array;
  n: number;
}

/** A whole labelled dataset as loaded from disk (pixels scaled to [0, 1]). */
export interface LabeledDataset {
  name: string;
  /** Shape of one example, e.g. [28, 28, 1]. */
  inputShape: number[];
  numClasses: number;
  classNames: string[];
  train: Split;
  test: Split;
  /** Per-channel normalisation applied when tasks are built. */
  normalization: { mean: number[]; std: number[] };
  /** Where the data came from (a directory or "embedded"), recorded in results. */
  source: string;
}

/** One task of a stream. */
export interface Task {
  index: number;
  name: string;
  /** Original labels of the dataset covered by this task, in head order. */
  classes: number[];
  inputShape: number[];
  train: Split;
  test: Split;
}

/** A sequence of tasks, all with the same input shape. */
export interface TaskStream {
  name: string;
  inputShape: number[];
  /** Width of the shared head: the largest number of classes of any task. */
  numClasses: number;
  tasks: Task[];
}

/** The stream facts every `Backbone.describe()` reports: input shape, classes and output width. */
export function describeSpec(spec: BackboneSpec): { input_shape: number[]; num_classes: number; num_outputs: number } {
  return { input_shape: spec.inputShape, num_classes: spec.numClasses, num_outputs: spec.numOutputs };
}

/** Size of one example (product of inputShape). */
export function inputSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
