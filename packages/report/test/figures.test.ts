import { mkdtempSync, readFileSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DataError } from '@supermask/core';
import { buildFigures, buildReport, percentDecimals, readMetricsCsv, readRuns, renderSvg } from '@supermask/report';

const fixture = fileURLToPath(new URL('./fixtures/metrics.csv', import.meta.url));

/** A run directory with a results.json whose accuracy matrix is `matrix` (lower triangle). */
function writeRun(dir: string, name: string, matrix: number[][]): string {
  mkdirSync(dir, { recursive: true });
  const T = matrix.length;
  const rows = matrix.map((r) => [...r, ...Array<null>(T - r.length).fill(null)]);
  const last = matrix[T - 1]!;
  writeFileSync(
    join(dir, 'results.json'),
    JSON.stringify({
      format_version: 1,
      name,
      backend: 'cpu',
      config: { strategy: { id: 'supsup' } },
      accuracy_matrix: rows,
      average_accuracy: last.reduce((a, b) => a + b, 0) / T,
      forgetting: 0,
      tasks: matrix.map((_, i) => ({ name: `task ${i + 1}`, evaluation_seconds: 0.1, phases: [{ name: 'mask', seconds: 1 }] })),
    }),
  );
  return dir;
}

/** The texts of the axis labels of a Vega SVG, axis by axis. */
function axisLabels(svg: string): string[][] {
  const groups = svg.split('role-axis-label').slice(1);
  return groups.map((g) => [...g.split(/role-axis-(?:domain|title|grid|tick)|<\/g><\/g>/)[0]!.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!));
}

describe('percentage axes', () => {
  it('chooses the label precision from the range', () => {
    expect(percentDecimals(1)).toBe(0);
    expect(percentDecimals(0.5)).toBe(0);
    expect(percentDecimals(0.04)).toBe(1);
    expect(percentDecimals(0.004)).toBe(2);
  });

  it('never repeats a label, on a 96-100% range or a 0-100% one', async () => {
    const root = mkdtempSync(join(tmpdir(), 'supermask-axes-'));
    const narrow = writeRun(join(root, 'narrow'), 'narrow', [[0.9988], [0.9975, 0.962], [0.997, 0.9615, 0.9801]]);
    const wide = writeRun(join(root, 'wide'), 'wide', [[0.99], [0.5, 0.8], [0.2, 0.6, 0.95]]);
    for (const dir of [narrow, wide]) {
      const plan = buildFigures(readRuns([dir]));
      const figure = plan.figures.find((f) => f.id === 'task-accuracy')!;
      const axes = axisLabels(await renderSvg(figure.spec));
      const percent = axes.filter((labels) => labels.some((l) => l.endsWith('%')));
      expect(percent.length).toBeGreaterThan(0);
      for (const labels of percent) {
        expect(labels.length).toBeGreaterThanOrEqual(3);
        expect(new Set(labels).size, labels.join(' ')).toBe(labels.length);
      }
      if (dir === narrow) expect(percent[0]!.some((l) => /^9[6-9]\.\d%$/.test(l))).toBe(true);
    }
  });
});

describe('task inference from supermask eval', () => {
  it('shows each evaluation-<method>.json of a run, and rejects a malformed one naming it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'supermask-eval-'));
    const dir = writeRun(join(root, 'run'), 'evaluated', [[0.9], [0.9, 0.8]]);
    const tasks = [0, 1].map((task) => ({ task, task_id_accuracy: 0.75 + 0.1 * task, accuracy_inferred: 0.7, accuracy_true: 0.85 }));
    writeFileSync(join(dir, 'evaluation-exhaustive.json'), JSON.stringify({ run: dir, method: 'exhaustive', batch_size: 100, tasks, task_id_accuracy: 0.8, average_accuracy: 0.7, average_accuracy_true: 0.85 }));
    const runs = readRuns([dir]);
    expect(runs[0]!.evaluations.map((e) => e.method)).toEqual(['exhaustive']);
    const plan = buildFigures(runs);
    const figure = plan.figures.find((f) => f.id === 'task-inference')!;
    expect(figure).toBeDefined();
    expect(plan.notes.map((n) => n.id)).not.toContain('task-inference');
    const values = (figure.spec as unknown as { data: { values: { source: string; task: number; measure: string; value: number }[] } }).data.values;
    expect(values.filter((v) => v.measure === 'task-id accuracy').map((v) => [v.source, v.task, v.value])).toEqual([
      ['exhaustive (supermask eval)', 1, 0.75],
      ['exhaustive (supermask eval)', 2, 0.85],
    ]);
    const report = await buildReport([dir], join(root, 'report'), { png: false });
    expect(readFileSync(report.html, 'utf8')).toContain('exhaustive (supermask eval)');

    writeFileSync(join(dir, 'evaluation-broken.json'), JSON.stringify({ method: 'binary', tasks: [{ task: 0 }] }));
    expect(() => readRuns([dir])).toThrow(DataError);
    expect(() => readRuns([dir])).toThrow(/evaluation-broken\.json: not a supermask evaluation/);
  });
});

describe('per-epoch curves from metrics.csv', () => {
  it('reads the epoch rows of a metrics.csv and draws loss and accuracy per epoch', async () => {
    const root = mkdtempSync(join(tmpdir(), 'supermask-curves-'));
    const dir = writeRun(join(root, 'run'), 'curves', [[0.9], [0.9, 0.915]]);
    copyFileSync(fixture, join(dir, 'metrics.csv'));
    const rows = readMetricsCsv(dir);
    expect(rows).toHaveLength(6);
    expect(rows[0]).toEqual({ task: 1, phase: 'mask', epoch: 1, loss: 0.6931471805599453, train_accuracy: 0.61, test_accuracy: null, samples_per_second: 1520.5, lr: 0.01 });
    expect(rows[5]).toMatchObject({ task: 2, phase: 'weight', epoch: 1, test_accuracy: 0.915 });

    const plan = buildFigures(readRuns([dir]));
    const figure = plan.figures.find((f) => f.id === 'epoch-curves')!;
    const values = (figure.spec as unknown as { data: { values: { step: number; measure: string; value: number }[] } }).data.values;
    expect(values.filter((v) => v.measure === 'loss').map((v) => [v.step, v.value])).toEqual(rows.map((r, i) => [i + 1, r.loss]));
    expect(values.filter((v) => v.measure === 'test accuracy')).toHaveLength(4);
    const svg = await renderSvg(figure.spec);
    expect(svg).toContain('training loss');
    for (const labels of axisLabels(svg).filter((l) => l.some((x) => x.endsWith('%')))) expect(new Set(labels).size).toBe(labels.length);

    // A run without metrics.csv has no curves; a malformed value names the line and column.
    const plain = writeRun(join(root, 'plain'), 'plain', [[0.9]]);
    expect(buildFigures(readRuns([plain])).figures.map((f) => f.id)).not.toContain('epoch-curves');
    writeFileSync(join(plain, 'metrics.csv'), readFileSync(fixture, 'utf8').replace('0.4120000000000001', 'nan?'));
    expect(() => readMetricsCsv(plain)).toThrow(/metrics\.csv:3: loss: expected a number, got "nan\?"/);
    writeFileSync(join(plain, 'metrics.csv'), 'event,task\nepoch,1\n');
    expect(() => readMetricsCsv(plain)).toThrow(/missing column\(s\) phase, epoch/);
  });
});
