import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TaskInference } from '@supermask/core';
import { createRegistry, reliabilityWarning } from '@supermask/cli';
import { MEASURED_RELIABILITY } from '@supermask/strategy-supsup';

const root = join(import.meta.dirname, '..', '..', '..');

const benchFile = join(root, 'bench', 'results', 'task-inference.json');
type BenchRow = { strategy: string; inference: string; tasks?: number; train_per_task?: unknown; superfluous_outputs?: number; task_id_accuracy: number };
const benchRows: BenchRow[] = (existsSync(benchFile) ? (JSON.parse(readFileSync(benchFile, 'utf8')).rows as BenchRow[]) : []).filter(
  (r) => r.tasks === 10 && r.train_per_task === 'all' && r.superfluous_outputs === 90,
);

function inference(id: string): TaskInference {
  const registry = createRegistry();
  const options = registry.resolveOptions('task_inference', { id, options: {} }, 'task_inference');
  // The container is only consulted by contrast (for the backbone spec).
  const container = { resolve: () => ({ numClasses: 10, numOutputs: 100 }) } as never;
  return registry.get('task_inference', id).create(options, container) as TaskInference;
}

describe('known reliability of task inference', () => {
  it('warns on eval when a method declares a measured task-id accuracy below 90% for the strategy', () => {
    const warning = reliabilityWarning(inference('oneshot'), 'exssnet');
    expect(warning).toMatch(/task inference "oneshot" is known to be unreliable with strategy "exssnet": it identified 0\.4% of test batches' tasks \(npm run bench:task-inference: .*\)/);
    expect(reliabilityWarning(inference('binary'), 'exssnet')).toMatch(/"binary" .* 47\.0%/);
    expect(reliabilityWarning(inference('oneshot'), 'supsup')).toBeUndefined();
    for (const id of ['contrast', 'exhaustive', 'oracle']) expect(reliabilityWarning(inference(id), 'exssnet')).toBeUndefined();
  });

  // Skipped when bench/results/task-inference.json holds another setting (a reduced run).
  it.skipIf(benchRows.length === 0)('declares the figures bench:task-inference measured', () => {
    const rows = benchRows;
    for (const [method, byStrategy] of Object.entries(MEASURED_RELIABILITY)) {
      for (const [strategy, known] of Object.entries(byStrategy)) {
        const row = rows.find((r) => r.inference === method && r.strategy === strategy);
        expect(row, `${method} on ${strategy}`).toBeDefined();
        expect(known.task_id_accuracy).toBeCloseTo(row!.task_id_accuracy, 3);
      }
    }
  });
});
