import * as tf from '@tensorflow/tfjs-core';
import type { Backbone, InferenceContext, TaskInference } from './contracts.js';
import { fixedContext, superpositionContext } from './contexts.js';
import { inputSize, type Split, type Task } from './data.js';
import { augmentBatch, type AugmentationOptions } from './augment.js';
import type { Rng } from './rng.js';
import type { TaskInferenceRecord, TaskInferenceSummary } from './results.js';

/** Evaluation with and without task ids, batch-norm recalibration, and the batch helpers. */

/** The first `numClasses` columns of `logits`: superfluous outputs are never predicted. */
export function classLogits(logits: tf.Tensor2D, numClasses: number): tf.Tensor2D {
  return logits.shape[1] === numClasses ? logits : logits.slice([0, 0], [-1, numClasses]);
}

/** Rows order[start..end) of a split as a batch (augmented when `augment` is given). */
export function gatherBatch(
  split: Split,
  order: Int32Array,
  start: number,
  end: number,
  shape: number[],
  augment?: { rng: Rng; options: AugmentationOptions },
): { x: tf.Tensor; y: tf.Tensor1D } {
  const size = inputSize(shape);
  const count = end - start;
  let xs: Float32Array = new Float32Array(count * size);
  const ys = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const row = order[start + i]!;
    xs.set(split.x.subarray(row * size, (row + 1) * size), i * size);
    ys[i] = split.y[row]!;
  }
  if (augment) xs = augmentBatch(xs, count, shape, augment.rng, augment.options);
  return { x: tf.tensor(xs, [count, ...shape]), y: tf.tensor1d(ys, 'int32') };
}

function testBatch(task: Task, start: number, end: number): tf.Tensor {
  const size = inputSize(task.inputShape);
  return tf.tensor(task.test.x.subarray(start * size, end * size), [end - start, ...task.inputShape]);
}

/** Logits of the stream's classes for `x` under task `task`'s fixed mask (a new tensor; the caller disposes it). */
export function taskLogits(backbone: Backbone, x: tf.Tensor, task: number, numClasses: number): tf.Tensor2D {
  return tf.tidy(() => classLogits(backbone.forward(x, fixedContext(task)), numClasses));
}

/** Rows of `x` whose predicted class under task `task` equals labels[offset + row] (read asynchronously). */
async function correctRows(backbone: Backbone, x: tf.Tensor, task: number, numClasses: number, labels: Int32Array, offset: number): Promise<number> {
  const predicted = tf.tidy(() => taskLogits(backbone, x, task, numClasses).argMax(1));
  const values = (await predicted.data()) as Int32Array;
  predicted.dispose();
  let ok = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === labels[offset + i]) ok++;
  return ok;
}

/** Accuracy on a task's test split with the true task id (the accuracy matrix uses this). */
export async function evaluateTask(backbone: Backbone, task: Task, numClasses: number, batchSize: number): Promise<number> {
  let correct = 0;
  for (let start = 0; start < task.test.n; start += batchSize) {
    const end = Math.min(task.test.n, start + batchSize);
    const x = testBatch(task, start, end);
    try {
      correct += await correctRows(backbone, x, task.index, numClasses, task.test.y, start);
    } finally {
      x.dispose();
    }
  }
  return correct / task.test.n;
}

/** Below this measured task-id accuracy (TaskInference.knownReliability) a run and `supermask eval` warn. */
export const RELIABLE_TASK_ID_ACCURACY = 0.9;

/**
 * What a run (and `supermask eval`) warns about a task inference in a run of `config`: a gradient
 * method without the superfluous outputs it needs, and a measured task-id accuracy below
 * RELIABLE_TASK_ID_ACCURACY for the run's strategy. Both name the methods that need neither.
 */
export function taskInferenceWarnings(inference: TaskInference, config: { strategy: { id: string }; outputs?: { superfluous?: number } }): string[] {
  const exact = '"exhaustive" is exact (one forward pass per learned task)';
  const warnings: string[] = [];
  if (inference.wantsSuperfluousOutputs && (config.outputs?.superfluous ?? 0) === 0) {
    warnings.push(`task inference "${inference.id}" without superfluous outputs: set outputs.superfluous (SupSup uses 90 with 10 classes) to tell tasks apart far more reliably; "prototype" and "contrast" need none and ${exact}`);
  }
  const known = inference.knownReliability?.[config.strategy.id];
  if (known && known.task_id_accuracy < RELIABLE_TASK_ID_ACCURACY) {
    warnings.push(`task inference "${inference.id}" is known to be unreliable with strategy "${config.strategy.id}": it identified ${(100 * known.task_id_accuracy).toFixed(1)}% of test batches' tasks (${known.measured}); "prototype" ranks tasks by their input statistics instead of the gradient, and ${exact}`);
  }
  return warnings;
}

/** What a task inference sees: the learned tasks and their contexts. */
export function inferenceContext(backbone: Backbone, learned: number): InferenceContext {
  return {
    learned,
    backbone,
    fixedContext: (j) => fixedContext(j),
    superposition: (candidates, alpha) => superpositionContext(candidates, alpha),
  };
}

/**
 * Evaluation without the task id: the test split of `task` in batches of the inference's batch
 * size; each batch gets the task id `inference` infers from the learned tasks, and is predicted
 * with that task's mask. Returns task-identification accuracy (fraction of examples whose batch
 * got the right id) and accuracy with the inferred and with the true task id.
 */
export async function evaluateInference(backbone: Backbone, task: Task, inference: TaskInference, learned: number, numClasses: number, defaultBatchSize: number): Promise<TaskInferenceRecord> {
  const batchSize = inference.batchSize ?? defaultBatchSize;
  const ctx = inferenceContext(backbone, learned);
  let identified = 0;
  let correctInferred = 0;
  let correctTrue = 0;
  const started = performance.now();
  for (let start = 0; start < task.test.n; start += batchSize) {
    const end = Math.min(task.test.n, start + batchSize);
    const x = testBatch(task, start, end);
    try {
      const inferred = await inference.infer(x, task.index, ctx);
      if (inferred === task.index) identified += end - start;
      const withTrue = await correctRows(backbone, x, task.index, numClasses, task.test.y, start);
      correctTrue += withTrue;
      correctInferred += inferred === task.index ? withTrue : await correctRows(backbone, x, inferred, numClasses, task.test.y, start);
    } finally {
      x.dispose();
    }
  }
  const n = task.test.n;
  return {
    task: task.index,
    task_id_accuracy: identified / n,
    accuracy_inferred: correctInferred / n,
    accuracy_true: correctTrue / n,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Evaluates every learned task without task ids (results.json `task_inference`). */
export async function evaluateAllInference(backbone: Backbone, tasks: readonly Task[], inference: TaskInference, numClasses: number, defaultBatchSize: number): Promise<TaskInferenceSummary> {
  const records: TaskInferenceRecord[] = [];
  for (const t of tasks) records.push(await evaluateInference(backbone, t, inference, tasks.length, numClasses, defaultBatchSize));
  const mean = (key: 'task_id_accuracy' | 'accuracy_inferred' | 'accuracy_true') => records.reduce((s, r) => s + r[key], 0) / Math.max(1, records.length);
  return {
    method: inference.id,
    batch_size: inference.batchSize ?? defaultBatchSize,
    task_id_accuracy: mean('task_id_accuracy'),
    average_accuracy: mean('accuracy_inferred'),
    average_accuracy_true: mean('accuracy_true'),
    tasks: records,
  };
}

/**
 * Re-estimates the task's batch-norm running statistics with its final mask and weights: a
 * forward pass in training mode (no gradient) over up to `examples` training examples. During
 * training the masks change every step, so the running averages mix statistics of networks that
 * no longer exist. Skipped (undefined) for backbones without per-task state (no `taskState`).
 */
export function recalibrateBatchNorm(backbone: Backbone, task: Task, examples: number, batchSize: number, rng: Rng): number | undefined {
  const count = Math.min(task.train.n, examples);
  if (count === 0 || !backbone.taskState) return undefined;
  const started = performance.now();
  const order = rng.permutation(task.train.n);
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(count, start + batchSize);
    tf.tidy(() => {
      const { x } = gatherBatch(task.train, order, start, end, task.inputShape);
      backbone.forward(x, fixedContext(task.index, true));
    });
  }
  return (performance.now() - started) / 1000;
}
