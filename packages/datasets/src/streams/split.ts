/**
 * `split`: class-incremental splits (SplitMNIST style). Task t covers `classes_per_task` classes,
 * taken in `class_order`; labels are remapped per task to 0..k-1.
 */
import { ConfigError, Rng, type JsonSchema, type LabeledDataset, type StreamBuilder, type TaskStream } from '@supermask/core';
import { buildTaskStream, COMMON_STREAM_PROPERTIES, commonPlanOptions, type CommonStreamOptions } from './common.js';

export interface SplitStreamOptions extends CommonStreamOptions {
  tasks: number;
  classes_per_task: number;
  /** Class ids in the order tasks take them, or `{ seed }` for a seeded permutation; default 0..C-1. */
  class_order?: number[] | { seed: number };
}

export const SPLIT_STREAM_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    tasks: { type: 'integer', minimum: 1, default: 5, description: 'Number of tasks' },
    classes_per_task: { type: 'integer', minimum: 1, default: 2, description: 'Classes of each task' },
    class_order: {
      description:
        'Order in which tasks take the classes: an array of distinct class ids, or { "seed": N } for a permutation seeded with N (default: 0, 1, ..., C-1)',
      oneOf: [
        { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1, uniqueItems: true },
        {
          type: 'object',
          properties: { seed: { type: 'integer', description: 'Seed of the class permutation' } },
          required: ['seed'],
          additionalProperties: false,
        },
      ],
    },
    ...COMMON_STREAM_PROPERTIES,
  },
  additionalProperties: false,
};

const ORDER_PATH = 'stream.options.class_order';

/**
 * The classes the tasks take, in order (tasks * classes_per_task of them). Throws `ConfigError`
 * naming the option at fault when the order or the counts do not fit the dataset.
 */
export function resolveClassOrder(options: SplitStreamOptions, numClasses: number): number[] {
  const needed = options.tasks * options.classes_per_task;
  if (needed > numClasses) {
    throw new ConfigError('split stream needs more classes than the dataset has', [
      `stream.options.tasks: ${options.tasks} tasks x ${options.classes_per_task} classes_per_task = ${needed} classes, but the dataset has ${numClasses}`,
    ]);
  }
  const order = options.class_order;
  if (order === undefined) return Array.from({ length: needed }, (_, i) => i);
  if (!Array.isArray(order)) return Array.from(new Rng(order.seed).permutation(numClasses).subarray(0, needed));
  const problems: string[] = [];
  const seen = new Set<number>();
  order.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) problems.push(`${ORDER_PATH}[${i}]: class id ${c} is not one of 0..${numClasses - 1}`);
    else if (seen.has(c)) problems.push(`${ORDER_PATH}[${i}]: class id ${c} appears twice; expected distinct ids`);
    seen.add(c);
  });
  if (order.length < needed) {
    problems.push(`${ORDER_PATH}: lists ${order.length} classes, but ${options.tasks} tasks x ${options.classes_per_task} classes_per_task need ${needed}`);
  }
  if (problems.length > 0) throw new ConfigError('invalid class order of split stream', problems);
  return order.slice(0, needed);
}

export class SplitStream implements StreamBuilder {
  constructor(readonly options: SplitStreamOptions) {}

  build(dataset: LabeledDataset, rng: Rng): TaskStream {
    const { tasks, classes_per_task: k } = this.options;
    const order = resolveClassOrder(this.options, dataset.numClasses);
    return buildTaskStream(dataset, rng, {
      name: `split ${dataset.name}`,
      ...commonPlanOptions(this.options),
      tasks: Array.from({ length: tasks }, (_, t) => {
        const classes = order.slice(t * k, (t + 1) * k);
        return { name: `task ${t + 1}: ${classes.map((c) => dataset.classNames[c] ?? String(c)).join(', ')}`, classes };
      }),
    });
  }
}
