import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError, exitCodeOf } from '@supermask/core';
import { buildReport, checkResults, readRun, readRuns } from '@supermask/report';

function runDir(content: string | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'supermask-report-bad-'));
  if (content !== null) writeFileSync(join(dir, 'results.json'), content);
  return dir;
}

const minimal = () => ({
  format_version: 1,
  name: 'tiny',
  backend: 'cpu',
  config: { strategy: { id: 'supsup', options: {} } },
  average_accuracy: 0.9,
  forgetting: 0,
  accuracy_matrix: [[0.9, null], [0.9, 0.9]],
  tasks: [0, 1].map((i) => ({ index: i, name: `task ${i + 1}`, phases: [{ name: 'mask', seconds: 0.1 }], evaluation_seconds: 0.01 })),
});

async function dataError(promise: Promise<unknown>): Promise<DataError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  expect(exitCodeOf(error)).toBe(3);
  return error as DataError;
}

describe('results.json validation', () => {
  it('accepts a minimal well-formed results.json', () => {
    expect(checkResults(minimal())).toEqual([]);
    const dir = runDir(JSON.stringify(minimal()));
    expect(readRun(dir).results.name).toBe('tiny');
    expect(readRun(join(dir, 'results.json')).dir).toBe(dir);
  });

  it('rejects malformed JSON with a DataError naming the file (exit code 3)', async () => {
    const dir = runDir('{"format_version": 1, ');
    const file = join(dir, 'results.json');
    const error = await dataError(buildReport([dir], join(dir, 'out')));
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/not valid JSON/);
    expect(error.file).toBe(file);
  });

  it('rejects a missing results.json, naming the file', async () => {
    const dir = runDir(null);
    const error = await dataError(buildReport([dir], join(dir, 'out')));
    expect(error.message).toContain(join(dir, 'results.json'));
    expect(error.message).toMatch(/not found/);
    const gone = join(dir, 'no-such-run');
    expect((await dataError(buildReport([gone], join(dir, 'out')))).message).toContain(`${gone} does not exist`);
  });

  it('names the file and each field at fault in a structurally wrong results.json', async () => {
    const bad = { ...minimal(), name: 7, accuracy_matrix: [[1.5, null], [0.9]], tasks: [{ name: 'x', phases: 'mask' }] } as Record<string, unknown>;
    delete bad.forgetting;
    const dir = runDir(JSON.stringify(bad));
    const error = await dataError(buildReport([dir], join(dir, 'out')));
    expect(error.message).toContain(join(dir, 'results.json'));
    for (const field of ['name:', 'forgetting:', 'accuracy_matrix[0][0]:', 'accuracy_matrix[1]:', 'tasks:', 'tasks[0].phases:', 'tasks[0].evaluation_seconds:']) {
      expect(error.message).toContain(field);
    }
    expect(checkResults([1, 2])).toEqual(['the top level is not a JSON object']);
  });

  it('fails on the bad run of several, before writing anything', async () => {
    const good = runDir(JSON.stringify(minimal()));
    const bad = runDir('[]');
    const out = join(good, 'report-out');
    const error = await dataError(buildReport([good, bad], out));
    expect(error.message).toContain(join(bad, 'results.json'));
    expect(() => mkdirSync(out)).not.toThrow(); // nothing was created
  });

  it('renders a minimal results.json (no ownership, transfer, versions or timings of the run)', async () => {
    const dir = runDir(JSON.stringify(minimal()));
    const report = await buildReport([dir], dir, { png: false });
    expect(report.figures.map((f) => f.id)).toEqual(['accuracy-matrix', 'task-accuracy', 'accuracy-forgetting', 'phase-timings']);
    expect(report.notes.map((n) => n.id)).toEqual(['ownership', 'kkt', 'task-inference']);
    expect(readFileSync(report.html, 'utf8')).toContain('no ownership records in results.json');
  });

  it('gives runs with equal names distinct labels', () => {
    const a = runDir(JSON.stringify(minimal()));
    const b = runDir(JSON.stringify(minimal()));
    const labels = readRuns([a, b]).map((r) => r.label);
    expect(new Set(labels).size).toBe(2);
    expect(labels[0]).toMatch(/^tiny \(/);
    expect(() => readRuns([])).toThrow(DataError);
  });
});
