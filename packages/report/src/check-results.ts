/** Checking a parsed results.json (no file access: shared by the Node and browser entries). */
import { DataError, type ExperimentResults } from '@supermask/core';

/** `value` as results, or a DataError naming `file` and listing every problem (exit code 3). */
export function assertResults(value: unknown, file: string): ExperimentResults {
  const problems = checkResults(value);
  if (problems.length > 0) throw new DataError(`${file}: not a supermask results.json:\n${problems.map((p) => `  - ${p}`).join('\n')}`, file);
  return value as ExperimentResults;
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

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
