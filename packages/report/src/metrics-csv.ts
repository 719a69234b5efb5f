import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { read } from 'vega';
import { DataError, METRICS_COLUMNS, METRICS_CSV } from '@supermask/core';

/** An `event=epoch` row of metrics.csv. */
export interface EpochRow {
  /** 1-based task. */
  task: number;
  /** Phase kind id (mask, weight). */
  phase: string;
  /** 1-based epoch within the phase. */
  epoch: number;
  loss: number;
  train_accuracy: number;
  /** Test accuracy of the task after the epoch, when it was evaluated. */
  test_accuracy: number | null;
  samples_per_second: number;
  lr: number;
}

/**
 * The epoch rows of `<dir>/metrics.csv` (core's metrics-csv observer) ([] when the run has no such file). Parsed with Vega's CSV
 * reader; a missing column or a non-numeric value is a DataError naming the file, line and column.
 */
export function readMetricsCsv(dir: string): EpochRow[] {
  const file = join(dir, METRICS_CSV);
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const header = (text.split('\n', 1)[0] ?? '').trim().split(',');
  const missing = METRICS_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length > 0) throw new DataError(`${file}: not a supermask metrics.csv: missing column(s) ${missing.join(', ')} (header: ${header.join(',')})`, file);
  const rows = read(text, { type: 'csv' }) as Record<string, string>[];
  const out: EpochRow[] = [];
  rows.forEach((row, i) => {
    if (row.event !== 'epoch') return;
    const line = i + 2;
    const num = (column: string, optional = false): number | null => {
      const cell = (row[column] ?? '').trim();
      if (cell === '' && optional) return null;
      const v = Number(cell);
      if (cell === '' || !Number.isFinite(v)) throw new DataError(`${file}:${line}: ${column}: expected a number, got ${JSON.stringify(cell)}`, file);
      return v;
    };
    out.push({
      task: num('task')!,
      phase: row.phase ?? '',
      epoch: num('epoch')!,
      loss: num('loss')!,
      train_accuracy: num('train_accuracy')!,
      test_accuracy: num('test_accuracy', true),
      samples_per_second: num('samples_per_second')!,
      lr: num('lr')!,
    });
  });
  return out;
}
