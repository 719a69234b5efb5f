import type { AccuracyMatrix } from '@supermask/core';

/** The accuracy matrix as an aligned text table (percent). */
export function formatAccuracyMatrix(matrix: AccuracyMatrix): string {
  const T = matrix.length;
  const head = ['after \\ task', ...Array.from({ length: T }, (_, j) => String(j + 1))];
  const rows = matrix.map((row, i) => [String(i + 1), ...row.map((v) => (v === null ? '' : (100 * v).toFixed(2)))]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padStart(widths[c]!)).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}
