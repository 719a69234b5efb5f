import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { assertSameRun, DataError, type ExperimentResults, type TaskInferenceSummary } from '@supermask/core';
import { readMetricsCsv, type EpochRow } from './metrics-csv.js';
import { assertResults, isNumber, isObject } from './check-results.js';

export { checkResults } from './check-results.js';

/** One run loaded for a report: its directory, its results.json and a label unique in the report. */
export interface RunData {
  /** Absolute run directory. */
  dir: string;
  /** Absolute path of its results.json. */
  file: string;
  /** Name shown in tables, legends and facet headers (the run's name, made unique). */
  label: string;
  results: ExperimentResults;
  /** Task-inference evaluations written by `supermask eval` (evaluation-<method>.json), by method. */
  evaluations: EvaluationFile[];
  /** Per-epoch rows of metrics.csv, when the run directory has one. */
  epochs: EpochRow[];
}

/** evaluation-<method>.json of a run directory. */
export interface EvaluationFile {
  file: string;
  method: string;
  summary: TaskInferenceSummary;
}

/** Reads every evaluation-*.json in a run directory; a malformed one is a DataError naming it. */
export function readEvaluations(dir: string): EvaluationFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^evaluation-.+\.json$/.test(f))
    .sort()
    .map((name) => {
      const file = join(dir, name);
      let value: unknown;
      try {
        value = JSON.parse(readFileSync(file, 'utf8'));
      } catch (error) {
        throw new DataError(`${file}: not valid JSON (${(error as Error).message})`, file);
      }
      const v = value as Partial<TaskInferenceSummary>;
      const ok =
        isObject(value) &&
        typeof v.method === 'string' &&
        Array.isArray(v.tasks) &&
        v.tasks.every((t) => isObject(t) && isNumber(t.task) && isNumber(t.task_id_accuracy) && isNumber(t.accuracy_inferred) && isNumber(t.accuracy_true));
      if (!ok) throw new DataError(`${file}: not a supermask evaluation (expected method and tasks[] with task, task_id_accuracy, accuracy_inferred, accuracy_true)`, file);
      return { file, method: v.method!, summary: value as TaskInferenceSummary };
    });
}

/** The run directory a path names: the path itself, or the directory of a results.json file given directly. */
export function runDirectory(path: string): string {
  const abs = resolve(path);
  return existsSync(abs) && statSync(abs).isFile() ? dirname(abs) : abs;
}

/**
 * Reads and checks a run's results.json. `path` is a run directory or the results.json itself.
 * A missing, unreadable or malformed file is a DataError (exit code 3) naming the file and the
 * field at fault.
 */
export function readRun(path: string): Omit<RunData, 'label'> {
  const abs = resolve(path);
  const isFile = existsSync(abs) && statSync(abs).isFile();
  const file = isFile ? abs : join(abs, 'results.json');
  const dir = isFile ? dirname(abs) : abs;
  if (!existsSync(file)) {
    const why = existsSync(abs) ? 'not found (is this a finished run directory? `supermask run` writes results.json at the end of a run)' : `not found: ${abs} does not exist`;
    throw new DataError(`${file}: ${why}`, file);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DataError(`${file}: cannot be read (${(error as Error).message})`, file);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DataError(`${file}: not valid JSON (${(error as Error).message})`, file);
  }
  const results = assertResults(value, file);
  // A results.json next to another run's checkpoint.json (a directory holding two runs) is refused.
  assertSameRun(dir);
  return { dir, file, results, evaluations: readEvaluations(dir), epochs: readMetricsCsv(dir) };
}

/** Reads every run and gives each a unique label (its name; the directory name is added to tell equal names apart). */
export function readRuns(paths: readonly string[]): RunData[] {
  if (paths.length === 0) throw new DataError('no run directory given: a report needs at least one run directory holding results.json');
  const runs = paths.map((p) => readRun(p));
  const count = new Map<string, number>();
  for (const r of runs) count.set(r.results.name, (count.get(r.results.name) ?? 0) + 1);
  const used = new Set<string>();
  return runs.map((r) => {
    let label = count.get(r.results.name)! > 1 ? `${r.results.name} (${basename(r.dir)})` : r.results.name;
    for (let n = 2; used.has(label); n++) label = `${r.results.name} (${basename(r.dir)} #${n})`;
    used.add(label);
    return { ...r, label };
  });
}
