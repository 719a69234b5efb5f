import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  accuracyCells,
  buildFigures,
  buildReport,
  kktCells,
  metricsOverTime,
  ownershipPoints,
  readRuns,
  renderSvg,
  type Figure,
  type ReportResult,
  type RunData,
} from '@supermask/report';
import { makeRuns } from './fixtures.js';
import { pngSize } from './png.js';

let root: string;
let dirs: { supsup: string; exssnet: string };
let runs: RunData[];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'supermask-report-test-'));
  dirs = await makeRuns(join(root, 'runs'));
  runs = readRuns([dirs.supsup, dirs.exssnet]);
});

const ids = (figures: Figure[]) => figures.map((f) => f.id);
const values = (f: Figure) => (f.spec as unknown as { data: { values: Record<string, unknown>[] } }).data.values;

describe('figure specs from real runs', () => {
  it('builds the single-run figures of an ExSSNeT+KKT run, with ownership and KKT', () => {
    const [, exssnet] = runs;
    const plan = buildFigures([exssnet!]);
    expect(ids(plan.figures)).toEqual(['accuracy-matrix', 'task-accuracy', 'accuracy-forgetting', 'ownership', 'kkt', 'epoch-curves', 'phase-timings']);
    expect(plan.notes.map((n) => n.id)).toEqual(['task-inference']);
    for (const f of plan.figures) {
      expect(f.title.length).toBeGreaterThan(0);
      expect(f.caption.length).toBeGreaterThan(20);
      expect(JSON.stringify(f.spec)).toContain('DejaVu Sans');
    }
    // The accuracy matrix heatmap holds exactly the lower triangle of the run's matrix.
    const matrix = exssnet!.results.accuracy_matrix;
    const cells = values(plan.figures[0]!);
    expect(cells).toHaveLength((matrix.length * (matrix.length + 1)) / 2);
    expect(cells).toContainEqual({ run: exssnet!.label, after: 3, task: 1, accuracy: matrix[2]![0] });
    // KKT: one cell per (new task, earlier task), chosen as results.json says.
    const kkt = kktCells([exssnet!]);
    expect(kkt).toHaveLength(1 + 2);
    const transfer = exssnet!.results.tasks[2]!.transfer as { knn_accuracy: number[]; chosen: number[] };
    expect(kkt.filter((c) => c.task === 3).map((c) => c.knn_accuracy)).toEqual(transfer.knn_accuracy);
    expect(kkt.filter((c) => c.task === 3 && c.chosen).map((c) => c.source - 1)).toEqual(transfer.chosen);
    // Ownership: capacity used never falls; the first task overlaps nothing.
    const capacity = ownershipPoints([exssnet!]).filter((p) => p.layer === 'all layers' && p.measure === 'capacity used');
    expect(capacity.map((p) => p.task)).toEqual([1, 2, 3]);
    for (let i = 1; i < capacity.length; i++) expect(capacity[i]!.value).toBeGreaterThanOrEqual(capacity[i - 1]!.value);
    expect(ownershipPoints([exssnet!]).filter((p) => p.task === 1 && p.measure === 'overlap with earlier masks').every((p) => p.value === 0)).toBe(true);
  });

  it('shows task inference for the SupSup run and notes that it has no KKT', () => {
    const plan = buildFigures([runs[0]!]);
    expect(ids(plan.figures)).toEqual(['accuracy-matrix', 'task-accuracy', 'accuracy-forgetting', 'ownership', 'task-inference', 'epoch-curves', 'phase-timings']);
    expect(plan.notes).toHaveLength(1);
    expect(plan.notes[0]!.id).toBe('kkt');
    expect(plan.notes[0]!.reason).toMatch(/knowledge_transfer is "none"/);
  });

  it('metrics over time end at the run’s average accuracy and forgetting', () => {
    for (const r of runs) {
      const points = metricsOverTime([r]);
      const T = r.results.accuracy_matrix.length;
      expect(points.find((p) => p.after === T && p.metric === 'average accuracy')!.value).toBeCloseTo(r.results.average_accuracy, 12);
      expect(points.find((p) => p.after === T && p.metric === 'forgetting')!.value).toBeCloseTo(r.results.forgetting, 12);
      expect(points.find((p) => p.after === 1 && p.metric === 'average accuracy')!.value).toBe(r.results.accuracy_matrix[0]![0]);
    }
    expect(accuracyCells(runs).map((c) => c.run)).toContain(runs[1]!.label);
  });

  it('compares two runs: both run names in the data and the legend of the comparison figures', async () => {
    const plan = buildFigures(runs);
    expect(ids(plan.figures)).toEqual(['accuracy-matrix', 'task-accuracy', 'accuracy-forgetting', 'comparison', 'ownership', 'kkt', 'task-inference', 'epoch-curves', 'phase-timings']);
    const labels = runs.map((r) => r.label);
    expect(labels).toEqual(['report-test-supsup', 'report-test-exssnet-kkt']);
    for (const id of ['comparison', 'accuracy-forgetting', 'accuracy-matrix']) {
      const figure = plan.figures.find((f) => f.id === id)!;
      expect(new Set(values(figure).map((v) => v.run))).toEqual(new Set(labels));
      const svg = await renderSvg(figure.spec);
      for (const label of labels) expect(svg).toContain(`>${label}<`);
    }
    // Figures with data from one run only: KKT (ExSSNeT) and task inference (SupSup), each noted for the other run.
    expect(new Set(values(plan.figures.find((f) => f.id === 'kkt')!).map((v) => v.run))).toEqual(new Set([labels[1]]));
    expect(plan.notes.map((n) => `${n.id}: ${n.reason.split(':')[0]}`)).toEqual([`kkt: ${labels[0]}`, `task-inference: ${labels[1]}`]);
  });
});

describe('buildReport', () => {
  let report: ReportResult;
  beforeAll(async () => {
    report = await buildReport([dirs.supsup, dirs.exssnet], join(root, 'compare'));
  });

  it('writes one valid, non-empty PNG per figure', () => {
    expect(report.pngs).toHaveLength(9);
    expect(report.figures.map((f) => f.png)).toEqual(report.pngs);
    for (const png of report.pngs) {
      const { width, height, bytes } = pngSize(png);
      expect(bytes).toBeGreaterThan(5_000);
      expect(width).toBeGreaterThan(300);
      expect(height).toBeGreaterThan(150);
    }
    // Written atomically: no temporary file is left behind.
    expect(readdirSync(join(root, 'compare', 'figures')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(readdirSync(join(root, 'compare')).sort()).toEqual(['figures', 'report.html']);
  });

  it('writes a self-contained report.html: inline SVGs, tables, no external resource', () => {
    const html = readFileSync(report.html, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect((html.match(/<svg[\s>]/g) ?? []).length).toBeGreaterThanOrEqual(report.figures.length);
    expect(html).not.toMatch(/<script[^>]*\ssrc=/i);
    expect(html).not.toMatch(/<link[^>]*href=/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(\s*['"]?https?:/i);
    for (const r of runs) {
      expect(html).toContain(r.label);
      expect(html).toContain(`${(100 * r.results.average_accuracy).toFixed(2)}%`);
    }
    expect(html).toContain('cpu'); // the backend
    expect(html).toContain('exssnet');
    expect(html).toContain('figures/kkt.png');
    // Ids stay unique although every SVG numbers its clip paths from its own counter.
    const idList = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(idList).size).toBe(idList.length);
    // The data travels with the page, as inert JSON.
    const json = html.match(/<script type="application\/json" id="supermask-report-data">([^<]*)<\/script>/);
    const embedded = JSON.parse(json![1]!) as { runs: { label: string }[]; figures: { id: string }[] };
    expect(embedded.runs.map((r) => r.label)).toEqual(runs.map((r) => r.label));
    expect(embedded.figures.map((f) => f.id)).toEqual(report.figures.map((f) => f.id));
  });

  it('notes the figures left out of a single-run report', async () => {
    const single = await buildReport([dirs.exssnet], dirs.exssnet, { png: false });
    expect(single.pngs).toEqual([]);
    expect(single.outDir).toBe(dirs.exssnet);
    expect(existsSync(join(dirs.exssnet, 'report.html'))).toBe(true);
    const html = readFileSync(single.html, 'utf8');
    expect(html).toContain('Not shown');
    expect(html).toMatch(/no task-inference evaluation/);
  });
});
