import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { taskInferenceWarnings, type TaskInference } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { MEASURED_RELIABILITY } from '@supermask/strategy-supsup';

const root = join(import.meta.dirname, '..', '..', '..');

type BenchRow = { strategy: string; inference: string; tasks?: number; train_per_task?: unknown; superfluous_outputs?: number; task_id_accuracy: number };
const benchRows = (bench: string): BenchRow[] => {
  const file = join(root, 'bench', 'results', `${bench}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')).rows as BenchRow[]) : [];
};
/** Each declared figure with the bench/results row of its setting, where the committed results hold it. */
const declared = Object.entries(MEASURED_RELIABILITY).flatMap(([method, byStrategy]) =>
  Object.entries(byStrategy).map(([strategy, known]) => ({
    method,
    strategy,
    known,
    row: benchRows(known.source.bench).find(
      (r) => r.inference === method && r.strategy === strategy && r.tasks === known.source.tasks && r.train_per_task === known.source.train_per_task && r.superfluous_outputs === known.source.superfluous_outputs,
    ),
  })),
);

function inference(id: string): TaskInference {
  const registry = createRegistry();
  const options = registry.resolveOptions('task_inference', { id, options: {} }, 'task_inference');
  // The container is only consulted by contrast (for the backbone spec).
  const container = { resolve: () => ({ numClasses: 10, numOutputs: 100 }) } as never;
  return registry.get('task_inference', id).create(options, container) as TaskInference;
}

/** The warning about `inference`'s measured reliability in a run of `strategy` with superfluous outputs. */
const reliabilityWarning = (inference: TaskInference, strategy: string): string | undefined =>
  taskInferenceWarnings(inference, { strategy: { id: strategy }, outputs: { superfluous: 90 } })[0];

describe('known reliability of task inference', () => {
  it('warns on eval when a method declares a measured task-id accuracy below 90% for the strategy', () => {
    const warning = reliabilityWarning(inference('oneshot'), 'exssnet');
    expect(warning).toMatch(/task inference "oneshot" is known to be unreliable with strategy "exssnet": it identified 0\.0% of test batches' tasks \(npm run bench:task-inference: .*\)/);
    expect(reliabilityWarning(inference('binary'), 'exssnet')).toMatch(/"binary" .* 47\.5%/);
    expect(reliabilityWarning(inference('oneshot'), 'supsup')).toBeUndefined();
    expect(reliabilityWarning(inference('contrast'), 'exssnet')).toMatch(/"contrast" .* 30\.0% .*all 60,000 training images per task.*"exhaustive" is exact/);
    expect(reliabilityWarning(inference('contrast'), 'supsup')).toBeUndefined();
    expect(reliabilityWarning(inference('contrast'), 'packnet')).toMatch(/"contrast" .* "packnet": it identified 77\.5% .*the recipe of configs\/split-fmnist-packnet\.json.*"prototype" ranks tasks by their input statistics/);
    expect(reliabilityWarning(inference('oneshot'), 'wsn')).toMatch(/"oneshot" .* "wsn": it identified 60\.0%/);
    for (const id of ['prototype', 'exhaustive', 'oracle']) for (const strategy of ['exssnet', 'wsn', 'packnet']) expect(reliabilityWarning(inference(id), strategy)).toBeUndefined();
  });

  it('warns about gradient methods without superfluous outputs, naming the methods that need none', () => {
    const none = { strategy: { id: 'supsup' }, outputs: { superfluous: 0 } };
    for (const id of ['oneshot', 'binary']) {
      expect(taskInferenceWarnings(inference(id), none)).toEqual([expect.stringMatching(new RegExp(`task inference "${id}" without superfluous outputs: .*"prototype" and "contrast" need none and "exhaustive" is exact`))]);
    }
    for (const id of ['prototype', 'contrast', 'exhaustive', 'oracle']) expect(taskInferenceWarnings(inference(id), none)).toEqual([]);
    // Both warnings at once: oneshot on ExSSNeT without superfluous outputs.
    expect(taskInferenceWarnings(inference('oneshot'), { strategy: { id: 'exssnet' } })).toHaveLength(2);
  });

  // Figures whose setting the committed bench/results do not hold are skipped.
  for (const { method, strategy, known, row } of declared) {
    it.skipIf(!row)(`declares the figure bench:${known.source.bench} measured for ${method} on ${strategy}`, () => {
      expect(known.task_id_accuracy).toBeCloseTo(row!.task_id_accuracy, 3);
    });
  }
});
