import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { assertSameRun, DataError, type ExperimentResults } from '@supermask/core';

/** One run loaded for a report: its directory, its results.json and a label unique in the report. */
export interface RunData {
  /** Absolute run directory. */
  dir: string;
  /** Absolute path of its results.json. */
  file: string;
  /** Name shown in tables, legends and facet headers (the run's name, made unique). */
  label: string;
  results: ExperimentResults;
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
export function readRun(path: string): { dir: string; file: string; results: ExperimentResults } {
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
  const problems = checkResults(value);
  if (problems.length > 0) {
    throw new DataError(`${file}: not a supermask results.json:\n${problems.map((p) => `  - ${p}`).join('\n')}`, file);
  }
  // A results.json next to another run's checkpoint.json (a directory holding two runs) is refused.
  assertSameRun(dir);
  return { dir, file, results: value as ExperimentResults };
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The problems of a parsed results.json, one line each naming the field (empty: fine). Checks
 * what a report reads; optional sections (ownership, transfer, task inference) are checked when
 * the figures use them.
 */
export function checkResults(value: unknown): string[] {
  const problems: string[] = [];
  if (!isObject(value)) return ['the top level is not a JSON object'];
  const need = (field: string, ok: boolean, expected: string) => {
    if (!ok) problems.push(`${field}: expected ${expected}, got ${describe(value[field.split(/[.[]/)[0]!])}`);
  };
  need('format_version', value.format_version === 1, 'format_version 1');
  need('name', typeof value.name === 'string', 'a string');
  need('backend', typeof value.backend === 'string', 'a string');
  need('config', isObject(value.config), 'an object (the resolved config)');
  need('average_accuracy', isNumber(value.average_accuracy), 'a number');
  need('forgetting', isNumber(value.forgetting), 'a number');
  const matrix = value.accuracy_matrix;
  if (!Array.isArray(matrix) || matrix.length === 0) {
    problems.push(`accuracy_matrix: expected a non-empty array of rows, got ${describe(matrix)}`);
  } else {
    matrix.forEach((row, i) => {
      if (!Array.isArray(row)) {
        problems.push(`accuracy_matrix[${i}]: expected an array, got ${describe(row)}`);
        return;
      }
      if (row.length < i + 1) problems.push(`accuracy_matrix[${i}]: expected at least ${i + 1} entries, got ${row.length}`);
      row.forEach((v, j) => {
        const ok = j <= i ? isNumber(v) && v >= 0 && v <= 1 : v === null || isNumber(v);
        if (!ok) problems.push(`accuracy_matrix[${i}][${j}]: expected ${j <= i ? 'an accuracy in [0, 1]' : 'null'}, got ${describe(v)}`);
      });
    });
  }
  const tasks = value.tasks;
  if (!Array.isArray(tasks)) {
    problems.push(`tasks: expected an array of task records, got ${describe(tasks)}`);
  } else {
    if (Array.isArray(matrix) && tasks.length !== matrix.length) problems.push(`tasks: expected one record per accuracy_matrix row (${matrix.length}), got ${tasks.length}`);
    tasks.forEach((t, i) => {
      if (!isObject(t)) {
        problems.push(`tasks[${i}]: expected an object, got ${describe(t)}`);
        return;
      }
      if (typeof t.name !== 'string') problems.push(`tasks[${i}].name: expected a string, got ${describe(t.name)}`);
      if (!isNumber(t.evaluation_seconds)) problems.push(`tasks[${i}].evaluation_seconds: expected a number, got ${describe(t.evaluation_seconds)}`);
      if (!Array.isArray(t.phases)) {
        problems.push(`tasks[${i}].phases: expected an array, got ${describe(t.phases)}`);
      } else {
        t.phases.forEach((p, k) => {
          if (!isObject(p) || typeof p.name !== 'string' || !isNumber(p.seconds)) problems.push(`tasks[${i}].phases[${k}]: expected { name: string, seconds: number, ... }, got ${describe(p)}`);
        });
      }
    });
  }
  return problems.slice(0, 20);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return `${typeof v} ${s.length > 40 ? `${s.slice(0, 40)}…` : s}`;
}
