import type { MeasuredReliability } from '@supermask/core';

/** A measured reliability whose source is a row of bench/results/BENCH.json (checked by a test when that file holds it). */
export interface BenchReliability extends MeasuredReliability {
  source: { bench: string; tasks: number; train_per_task: number | 'all'; superfluous_outputs: number };
}

const setting = (trainPerTask: number | 'all', superfluous: number) =>
  `npm run bench:task-inference: Permuted Fashion-MNIST, 10 tasks, LeNet, density 0.1, ${trainPerTask === 'all' ? 'all 60,000' : trainPerTask.toLocaleString('en')} training images per task, ${superfluous} superfluous outputs, seed 0`;

/**
 * Task-id accuracy of the gradient methods where they are known to fail: with ExSSNeT the trained
 * weights sharpen every mask's outputs, and the entropy gradient of the superposition prefers the
 * wrong masks (TaskInference.knownReliability: runs and `supermask eval` warn below 90%).
 * `oneshot` and `binary`: issue 21's run on all training data; `contrast`: its worst measured
 * 10-task setting (20,000 images per task).
 */
export const MEASURED_RELIABILITY: Readonly<Record<'oneshot' | 'binary' | 'contrast' | 'prototype', Readonly<Record<string, BenchReliability>>>> = {
  oneshot: { exssnet: { task_id_accuracy: 0.004, measured: setting('all', 90), source: { bench: 'task-inference', tasks: 10, train_per_task: 'all', superfluous_outputs: 90 } } },
  binary: { exssnet: { task_id_accuracy: 0.47, measured: setting('all', 90), source: { bench: 'task-inference', tasks: 10, train_per_task: 'all', superfluous_outputs: 90 } } },
  contrast: { exssnet: { task_id_accuracy: 0.65, measured: setting(20000, 90), source: { bench: 'task-inference-20000', tasks: 10, train_per_task: 20000, superfluous_outputs: 90 } } },
  prototype: {},
};
