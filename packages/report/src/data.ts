import { averageAccuracy, forgetting, type AccuracyMatrix, type TaskInferenceSummary, type TaskOwnershipStats } from '@supermask/core';
import type { RunData } from './results.js';

/**
 * Tidy tables (one row per datum) drawn from results.json, as the charts take them. Tasks are
 * numbered from 1, as the CLI prints them.
 */

export interface AccuracyCell {
  run: string;
  /** Row of the accuracy matrix: after training this task. */
  after: number;
  /** Column: the task evaluated. */
  task: number;
  accuracy: number;
}

export function accuracyCells(runs: readonly RunData[]): AccuracyCell[] {
  return runs.flatMap((r) =>
    r.results.accuracy_matrix.flatMap((row, i) =>
      row.flatMap((v, j) => (j <= i && typeof v === 'number' ? [{ run: r.label, after: i + 1, task: j + 1, accuracy: v }] : [])),
    ),
  );
}

export interface MetricPoint {
  run: string;
  after: number;
  metric: 'average accuracy' | 'forgetting';
  value: number;
}

/** Average accuracy (over the tasks seen so far) and forgetting after each task, as core's metrics compute them. */
export function metricsOverTime(runs: readonly RunData[]): MetricPoint[] {
  return runs.flatMap((r) => {
    const m = r.results.accuracy_matrix as AccuracyMatrix;
    return m.flatMap((_, i) => {
      const prefix = m.slice(0, i + 1);
      return [
        { run: r.label, after: i + 1, metric: 'average accuracy' as const, value: averageAccuracy(prefix) },
        { run: r.label, after: i + 1, metric: 'forgetting' as const, value: forgetting(prefix) },
      ];
    });
  });
}

export interface FinalMetric {
  run: string;
  metric: 'average accuracy' | 'forgetting';
  value: number;
}

export function finalMetrics(runs: readonly RunData[]): FinalMetric[] {
  return runs.flatMap((r) => [
    { run: r.label, metric: 'average accuracy' as const, value: r.results.average_accuracy },
    { run: r.label, metric: 'forgetting' as const, value: r.results.forgetting },
  ]);
}

export interface OwnershipPoint {
  run: string;
  task: number;
  layer: string;
  measure: 'capacity used' | 'overlap with earlier masks';
  value: number;
}

export const ALL_LAYERS = 'all layers';

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function isTaskStats(v: unknown): v is TaskOwnershipStats {
  if (!v || typeof v !== 'object') return false;
  const s = v as Partial<TaskOwnershipStats>;
  return (
    isNumber(s.task) &&
    Array.isArray(s.layers) &&
    s.layers.every((l) => l && typeof l.layer === 'string' && isNumber(l.capacity_used) && isNumber(l.overlap)) &&
    !!s.total &&
    isNumber(s.total.capacity_used) &&
    isNumber(s.total.overlap)
  );
}

/**
 * Per-task ownership figures of a run (OwnershipLedger format): from the run's `ownership.tasks`,
 * else from each task record's `ownership`. Undefined when the run has none in that format.
 */
export function ownershipStats(run: RunData): TaskOwnershipStats[] | undefined {
  const summary = run.results.ownership as { tasks?: unknown } | undefined;
  const fromSummary = summary && Array.isArray(summary.tasks) ? summary.tasks : undefined;
  const stats = fromSummary ?? run.results.tasks.map((t) => t.ownership);
  if (stats.length === 0 || !stats.every(isTaskStats)) return undefined;
  return stats as TaskOwnershipStats[];
}

export function ownershipPoints(runs: readonly RunData[]): OwnershipPoint[] {
  return runs.flatMap((r) =>
    (ownershipStats(r) ?? []).flatMap((s) =>
      [...s.layers, { ...s.total, layer: ALL_LAYERS }].flatMap((l) => [
        { run: r.label, task: s.task + 1, layer: l.layer, measure: 'capacity used' as const, value: l.capacity_used },
        { run: r.label, task: s.task + 1, layer: l.layer, measure: 'overlap with earlier masks' as const, value: l.overlap },
      ]),
    ),
  );
}

export interface KktCell {
  run: string;
  /** The new task. */
  task: number;
  /** The earlier task probed. */
  source: number;
  knn_accuracy: number;
  chance: number;
  chosen: boolean;
}

interface KktRecord {
  knn_accuracy: number[];
  chance: number;
  chosen: number[];
  seconds?: number;
}

function kktRecord(v: unknown): KktRecord | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const t = v as Partial<KktRecord>;
  if (!Array.isArray(t.knn_accuracy) || !t.knn_accuracy.every(isNumber) || !isNumber(t.chance) || !Array.isArray(t.chosen) || !t.chosen.every(isNumber)) return undefined;
  return t as KktRecord;
}

/** Whether a run holds KKT transfer records (k-NN accuracies per earlier task). */
export function hasKkt(run: RunData): boolean {
  return run.results.tasks.some((t) => kktRecord(t.transfer) !== undefined);
}

export function kktCells(runs: readonly RunData[]): KktCell[] {
  return runs.flatMap((r) =>
    r.results.tasks.flatMap((t, i) => {
      const k = kktRecord(t.transfer);
      if (!k) return [];
      return k.knn_accuracy.map((a, j) => ({ run: r.label, task: i + 1, source: j + 1, knn_accuracy: a, chance: k.chance, chosen: k.chosen.includes(j) }));
    }),
  );
}

export interface TimingBar {
  run: string;
  task: number;
  phase: string;
  /** Stacking order of the phase (the order a task runs them). */
  order: number;
  seconds: number;
}

/** Seconds per task and phase: knowledge transfer, each training phase, evaluation. */
export function phaseTimings(runs: readonly RunData[]): TimingBar[] {
  return runs.flatMap((r) =>
    r.results.tasks.flatMap((t, i) => {
      const bars: TimingBar[] = [];
      const transfer = t.transfer as { seconds?: unknown; method?: unknown } | undefined;
      if (transfer && isNumber(transfer.seconds)) {
        bars.push({ run: r.label, task: i + 1, phase: `${typeof transfer.method === 'string' ? transfer.method : 'knowledge'} transfer`, order: 0, seconds: transfer.seconds });
      }
      t.phases.forEach((p, k) => bars.push({ run: r.label, task: i + 1, phase: `${p.name} phase`, order: 1 + k, seconds: p.seconds }));
      bars.push({ run: r.label, task: i + 1, phase: 'evaluation', order: 100, seconds: t.evaluation_seconds });
      return bars;
    }),
  );
}

export interface InferenceBar {
  run: string;
  /** Where the figures come from: the run's own evaluation or `supermask eval` (evaluation-<method>.json). */
  source: string;
  task: number;
  measure: 'task-id accuracy' | 'accuracy, inferred task id' | 'accuracy, true task id';
  value: number;
}

/** The task-inference evaluations of a run: results.json's, then each evaluation-<method>.json. */
export function inferenceSources(run: RunData): { source: string; summary: TaskInferenceSummary }[] {
  const s = run.results.task_inference;
  const own = !!s && Array.isArray(s.tasks) && s.tasks.length > 0 && s.tasks.every((t) => isNumber(t.task_id_accuracy) && isNumber(t.accuracy_inferred) && isNumber(t.accuracy_true));
  return [
    ...(own ? [{ source: `${s!.method} (end of run)`, summary: s! }] : []),
    ...run.evaluations.map((e) => ({ source: `${e.method} (supermask eval)`, summary: e.summary })),
  ];
}

export function hasTaskInference(run: RunData): boolean {
  return inferenceSources(run).length > 0;
}

export function inferenceBars(runs: readonly RunData[]): InferenceBar[] {
  return runs.flatMap((r) =>
    inferenceSources(r).flatMap(({ source, summary }) => summary.tasks.flatMap((t) => [
      { run: r.label, source, task: t.task + 1, measure: 'task-id accuracy' as const, value: t.task_id_accuracy },
      { run: r.label, source, task: t.task + 1, measure: 'accuracy, inferred task id' as const, value: t.accuracy_inferred },
      { run: r.label, source, task: t.task + 1, measure: 'accuracy, true task id' as const, value: t.accuracy_true },
    ])),
  );
}

export interface EpochPoint {
  run: string;
  /** Position in the run: the n-th epoch over every task and phase (1-based). */
  step: number;
  task: number;
  phase: string;
  epoch: number;
  measure: 'loss' | 'train accuracy' | 'test accuracy';
  value: number;
}

/** The per-epoch curves of metrics.csv: loss, train accuracy and (when evaluated) test accuracy. */
export function epochPoints(runs: readonly RunData[]): EpochPoint[] {
  return runs.flatMap((r) =>
    r.epochs.flatMap((e, i) => {
      const at = { run: r.label, step: i + 1, task: e.task, phase: e.phase, epoch: e.epoch };
      return [
        { ...at, measure: 'loss' as const, value: e.loss },
        { ...at, measure: 'train accuracy' as const, value: e.train_accuracy },
        ...(e.test_accuracy === null ? [] : [{ ...at, measure: 'test accuracy' as const, value: e.test_accuracy }]),
      ];
    }),
  );
}
