import type { AccuracyMatrix, TaskInferenceSummary } from '@supermask/core';

/** The accuracy matrix as an aligned text table (percent). */
export function formatAccuracyMatrix(matrix: AccuracyMatrix): string {
  const T = matrix.length;
  const head = ['after \\ task', ...Array.from({ length: T }, (_, j) => String(j + 1))];
  const rows = matrix.map((row, i) => [String(i + 1), ...row.map((v) => (v === null ? '' : (100 * v).toFixed(2)))]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padStart(widths[c]!)).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

/** The task-inference evaluation as a table (percent). */
export function formatTaskInference(summary: TaskInferenceSummary): string {
  const head = ['task', 'task id', 'inferred', 'true id'];
  const rows = summary.tasks.map((r) => [String(r.task + 1), ...[r.task_id_accuracy, r.accuracy_inferred, r.accuracy_true].map((v) => (100 * v).toFixed(2))]);
  rows.push(['mean', ...[summary.task_id_accuracy, summary.average_accuracy, summary.average_accuracy_true].map((v) => (100 * v).toFixed(2))]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padStart(widths[c]!)).join('  ');
  return [`task inference ${summary.method} (batch ${summary.batch_size}), accuracy (%):`, line(head), ...rows.map(line)].join('\n');
}
