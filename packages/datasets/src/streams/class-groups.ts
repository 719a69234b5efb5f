/**
 * `class-groups`: tasks given explicitly as lists of class ids. A class may appear in several
 * tasks (for example a task that repeats an earlier one with its labels swapped), which `split`
 * does not allow. Labels are remapped per task in the order listed.
 */
import { ConfigError, type JsonSchema, type LabeledDataset, type Rng, type StreamBuilder, type TaskStream } from '@supermask/core';
import { buildTaskStream, COMMON_STREAM_PROPERTIES, commonPlanOptions, type CommonStreamOptions } from './common.js';

export interface ClassGroupsStreamOptions extends CommonStreamOptions {
  /** One list of class ids per task, in head order. */
  task_classes: number[][];
}

export const CLASS_GROUPS_STREAM_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['task_classes'],
  additionalProperties: false,
  properties: {
    task_classes: {
      type: 'array',
      minItems: 1,
      description: 'One list of class ids per task, in head order (label task_classes[t][i] becomes i)',
      items: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'integer', minimum: 0 } },
    },
    ...COMMON_STREAM_PROPERTIES,
  },
};

export class ClassGroupsStream implements StreamBuilder {
  constructor(readonly options: ClassGroupsStreamOptions) {}

  build(dataset: LabeledDataset, rng: Rng): TaskStream {
    const problems: string[] = [];
    this.options.task_classes.forEach((classes, t) =>
      classes.forEach((c, i) => {
        if (c >= dataset.numClasses) problems.push(`stream.options.task_classes[${t}][${i}]: class id ${c} is not one of 0..${dataset.numClasses - 1}`);
      }),
    );
    if (problems.length > 0) throw new ConfigError('invalid class-groups stream', problems);
    return buildTaskStream(dataset, rng, {
      name: `class-groups ${dataset.name}`,
      ...commonPlanOptions(this.options),
      tasks: this.options.task_classes.map((classes, t) => ({
        name: `task ${t + 1}: ${classes.map((c) => dataset.classNames[c] ?? String(c)).join(', ')}`,
        classes,
      })),
    });
  }
}
