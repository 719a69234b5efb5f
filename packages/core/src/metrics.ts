/**
 * Continual-learning metrics over an accuracy matrix R (row i = after training task i,
 * column j = task j, null where j > i).
 */
export type AccuracyMatrix = (number | null)[][];

/** Mean accuracy over all tasks after the last task (mean of the last row). */
export function averageAccuracy(matrix: AccuracyMatrix): number {
  const last = matrix[matrix.length - 1];
  if (!last) return NaN;
  const values = last.filter((v): v is number => v !== null);
  return values.reduce((s, v) => s + v, 0) / values.length;
}

/**
 * Forgetting: mean over tasks j < T-1 of (best accuracy on j before the last task) minus
 * (accuracy on j after the last task). 0 means nothing was forgotten. 0 for a single task.
 */
export function forgetting(matrix: AccuracyMatrix): number {
  const T = matrix.length;
  if (T < 2) return 0;
  let sum = 0;
  for (let j = 0; j < T - 1; j++) {
    let best = -Infinity;
    for (let i = j; i < T - 1; i++) best = Math.max(best, matrix[i]![j]!);
    sum += best - matrix[T - 1]![j]!;
  }
  return sum / (T - 1);
}

/** Backward transfer: mean over j < T-1 of R[T-1][j] - R[j][j] (negative = forgetting). */
export function backwardTransfer(matrix: AccuracyMatrix): number {
  const T = matrix.length;
  if (T < 2) return 0;
  let sum = 0;
  for (let j = 0; j < T - 1; j++) sum += matrix[T - 1]![j]! - matrix[j]![j]!;
  return sum / (T - 1);
}

/** The matrix as CSV: a header `after_task,task_1,...`, one row per trained task, empty cells for j > i. */
export function accuracyMatrixCsv(matrix: AccuracyMatrix): string {
  const T = matrix.length;
  const header = ['after_task', ...Array.from({ length: T }, (_, j) => `task_${j + 1}`)].join(',');
  const rows = matrix.map((row, i) => [String(i + 1), ...row.map((v) => (v === null ? '' : v.toFixed(6)))].join(','));
  return `${[header, ...rows].join('\n')}\n`;
}
