import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, writeFileAtomic, writeJsonAtomic } from '@supermask/core';
import type { PointProgress, PointResults } from './run-point.js';
import { axisLabels, type SweepPoint } from './sweep-file.js';

/** waiting: not started (or waiting for a retry); running; done: results collected; failed: every attempt failed. */
export type PointState = 'waiting' | 'running' | 'done' | 'failed';

/** One point in sweep.json. */
export interface PointRecord {
  id: string;
  configuration: string;
  /** Run directory, relative to the sweep directory. */
  dir: string;
  axes: Record<string, unknown>;
  labels: Record<string, string>;
  seed: number;
  state: PointState;
  /** Attempts started so far. */
  attempts: number;
  /** The worker running (or that ran) the point: `local` in the embedded pool, the BullMQ worker's name on a queue. */
  worker?: string;
  progress?: PointProgress;
  error?: string;
  results?: PointResults;
  started_at?: string;
  finished_at?: string;
}

/** sweep.json: the sweep's points, their states and results. */
export interface SweepState {
  format_version: 1;
  name: string;
  sweep_file: string;
  /** `local` (embedded pool) or the queue's URL. */
  executor: string;
  /** The axes' dotted config paths, grid first, then zip. */
  axes: string[];
  seeds: number[];
  updated_at: string;
  points: PointRecord[];
}

export const SWEEP_STATE_FILE = 'sweep.json';

export function newPointRecord(point: SweepPoint): PointRecord {
  return { id: point.id, configuration: point.configuration, dir: point.id, axes: point.axes, labels: point.labels, seed: point.seed, state: 'waiting', attempts: 0 };
}

/** Reads a sweep directory's sweep.json; a missing or malformed one is a DataError (exit 3) naming the file. */
export function readSweepState(dir: string): SweepState {
  const file = join(dir, SWEEP_STATE_FILE);
  if (!existsSync(file)) throw new DataError(`${file}: not found (is ${dir} a sweep directory? \`supermask sweep\` writes sweep.json)`, file);
  let value: SweepState;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new DataError(`${file}: not valid JSON (${(error as Error).message})`, file);
  }
  if (value?.format_version !== 1 || !Array.isArray(value.points) || !Array.isArray(value.axes)) {
    throw new DataError(`${file}: not a supermask sweep.json (format_version 1 with axes and points expected)`, file);
  }
  return value;
}

export function writeSweepState(dir: string, state: SweepState): void {
  writeJsonAtomic(join(dir, SWEEP_STATE_FILE), { ...state, updated_at: new Date().toISOString() });
}

/** Mean and sample standard deviation over the seeds that finished. */
export interface Stat {
  mean: number;
  sd: number;
  n: number;
}

function stat(values: number[]): Stat | null {
  if (values.length === 0) return null;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = values.length > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, sd, n: values.length };
}

/** One configuration of a sweep (its points over the seeds). */
export interface SummaryRow {
  configuration: string;
  axes: Record<string, unknown>;
  labels: Record<string, string>;
  seeds: number[];
  done: number;
  failed: number;
  average_accuracy: Stat | null;
  forgetting: Stat | null;
  capacity_used: Stat | null;
  seconds: Stat | null;
}

/** Per configuration: mean and sd over seeds of average accuracy, forgetting, capacity used and seconds. */
export function summarize(state: SweepState): SummaryRow[] {
  const groups = new Map<string, PointRecord[]>();
  for (const p of state.points) groups.set(p.configuration, [...(groups.get(p.configuration) ?? []), p]);
  return [...groups.entries()].map(([configuration, points]) => {
    const results = points.flatMap((p) => (p.state === 'done' && p.results ? [p.results] : []));
    return {
      configuration,
      axes: points[0]!.axes,
      labels: points[0]!.labels,
      seeds: points.map((p) => p.seed),
      done: results.length,
      failed: points.filter((p) => p.state === 'failed').length,
      average_accuracy: stat(results.map((r) => r.average_accuracy)),
      forgetting: stat(results.map((r) => r.forgetting)),
      capacity_used: stat(results.flatMap((r) => (r.capacity_used === null ? [] : [r.capacity_used]))),
      seconds: stat(results.map((r) => r.seconds)),
    };
  });
}

const METRICS = [
  { key: 'average_accuracy', title: 'average accuracy (%)', scale: 100, digits: 2 },
  { key: 'forgetting', title: 'forgetting (points)', scale: 100, digits: 2 },
  { key: 'capacity_used', title: 'capacity used (%)', scale: 100, digits: 2 },
  { key: 'seconds', title: 'seconds', scale: 1, digits: 1 },
] as const;

const pm = (s: Stat | null, scale: number, digits: number) => (s ? `${(s.mean * scale).toFixed(digits)} ± ${(s.sd * scale).toFixed(digits)}` : '-');

/** The summary as rows of text cells, header first (axis columns by their short labels). */
export function summaryCells(rows: SummaryRow[], axes: string[]): string[][] {
  const labels = axisLabels(axes);
  const head = [...axes.map((a) => labels.get(a)!), 'seeds done', ...METRICS.map((m) => m.title)];
  const body = rows.map((r) => [
    ...axes.map((a) => r.labels[a] ?? ''),
    `${r.done}/${r.seeds.length}${r.failed ? ` (${r.failed} failed)` : ''}`,
    ...METRICS.map((m) => pm(r[m.key], m.scale, m.digits)),
  ]);
  return [head, ...body];
}

/** The summary table in plain text (aligned columns), Markdown and CSV (means and sds in their own columns). */
export function formatSummary(rows: SummaryRow[], axes: string[]): { text: string; markdown: string; csv: string } {
  const cells = summaryCells(rows, axes);
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const text = cells.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
  const markdown = [cells[0]!, cells[0]!.map(() => '---'), ...cells.slice(1)].map((r) => `| ${r.join(' | ')} |`).join('\n');
  const labels = axisLabels(axes);
  const csvCell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const csvHead = ['configuration', ...axes.map((a) => labels.get(a)!), 'seeds', 'done', 'failed', ...METRICS.flatMap((m) => [`${m.key}_mean`, `${m.key}_sd`])];
  const csvRows = rows.map((r) => [
    r.configuration,
    ...axes.map((a) => r.labels[a]),
    r.seeds.join(' '),
    r.done,
    r.failed,
    ...METRICS.flatMap((m) => [r[m.key]?.mean, r[m.key]?.sd]),
  ]);
  const csv = [csvHead, ...csvRows].map((r) => r.map(csvCell).join(',')).join('\n');
  return { text, markdown, csv: `${csv}\n` };
}

/** Writes summary.csv and summary.md into the sweep directory; returns the text table. */
export function writeSummary(dir: string, state: SweepState): string {
  const { text, markdown, csv } = formatSummary(summarize(state), state.axes);
  writeFileAtomic(join(dir, 'summary.csv'), csv);
  writeFileAtomic(join(dir, 'summary.md'), `# Sweep ${state.name}\n\nMean ± sd over seeds.\n\n${markdown}\n`);
  return text;
}
