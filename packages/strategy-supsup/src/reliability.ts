import type { MeasuredReliability } from '@supermask/core';

/** A measured reliability whose source is a row of bench/results/BENCH.json (checked by a test when that file holds it). */
export interface BenchReliability extends MeasuredReliability {
  source: { bench: string; tasks: number; train_per_task: number | 'all'; superfluous_outputs: number };
}

const setting = (trainPerTask: number | 'all', superfluous: number, recipe = 'density 0.1') =>
  `npm run bench:task-inference: Permuted Fashion-MNIST, 10 tasks, LeNet, ${recipe}, ${trainPerTask === 'all' ? 'all 60,000' : trainPerTask.toLocaleString('en')} training images per task, ${superfluous} superfluous outputs, seed 0`;

/** A figure of bench/results/task-inference-wsn-packnet.json (WSN and PackNet with their configs/split-fmnist-*.json recipes, all images, no superfluous outputs). */
const wsnPackNet = (strategy: 'wsn' | 'packnet', taskIdAccuracy: number): BenchReliability => ({
  task_id_accuracy: taskIdAccuracy,
  measured: setting('all', 0, `the recipe of configs/split-fmnist-${strategy}.json`),
  source: { bench: 'task-inference-wsn-packnet', tasks: 10, train_per_task: 'all', superfluous_outputs: 0 },
});

/**
 * Task-id accuracy of the gradient methods where they are known to fail: with ExSSNeT the trained
 * weights sharpen every mask's outputs, and the entropy gradient of the superposition prefers the
 * wrong masks (TaskInference.knownReliability: runs and `supermask eval` warn below 90%).
 * Each figure is the method's worst 10-task row of `npm run bench:task-inference` on all training
 * data (bench/results/task-inference.json; WSN and PackNet: task-inference-wsn-packnet.json). `prototype` identified every batch in every setting
 * measured (SupSup and ExSSNeT with 1,000 to 60,000 images and 10 to 100 tasks), so it declares none.
 */
export const MEASURED_RELIABILITY: Readonly<Record<'oneshot' | 'binary' | 'contrast' | 'prototype', Readonly<Record<string, BenchReliability>>>> = {
  oneshot: {
    exssnet: { task_id_accuracy: 0, measured: setting('all', 90), source: { bench: 'task-inference', tasks: 10, train_per_task: 'all', superfluous_outputs: 90 } },
    wsn: wsnPackNet('wsn', 0.6),
    packnet: wsnPackNet('packnet', 0.7),
  },
  binary: { exssnet: { task_id_accuracy: 0.475, measured: setting('all', 90), source: { bench: 'task-inference', tasks: 10, train_per_task: 'all', superfluous_outputs: 90 } } },
  contrast: {
    exssnet: { task_id_accuracy: 0.3, measured: setting('all', 90), source: { bench: 'task-inference', tasks: 10, train_per_task: 'all', superfluous_outputs: 90 } },
    wsn: wsnPackNet('wsn', 0.85),
    packnet: wsnPackNet('packnet', 0.775),
  },
  prototype: {},
};
