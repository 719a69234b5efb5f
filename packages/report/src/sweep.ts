import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '@supermask/core';
import { axisLabels, readSweepState, summarize, summaryCells, SWEEP_STATE_FILE, type SummaryRow, type SweepState } from '@supermask/sweep';
import { escapeHtml, figureSection, notesSection, REPORT_STYLE } from './html.js';
import { renderFigures, type ReportOptions, type ReportResult } from './report.js';
import { DEFAULT_FONT_FAMILY, type Figure, type FigureNote } from './specs.js';

/** Whether a directory is a sweep directory (holds sweep.json). */
export function isSweepDirectory(dir: string): boolean {
  return existsSync(join(resolve(dir), SWEEP_STATE_FILE));
}

const METRICS = [
  { key: 'average_accuracy', id: 'sweep-accuracy', title: 'Average accuracy', axis: 'average accuracy', format: '.0%', what: 'average accuracy after the last task (mean over tasks of the final accuracy)' },
  { key: 'forgetting', id: 'sweep-forgetting', title: 'Forgetting', axis: 'forgetting', format: '.1%', what: 'forgetting (mean drop of each earlier task from its best accuracy; 0: nothing forgotten)' },
  { key: 'capacity_used', id: 'sweep-capacity', title: 'Capacity used', axis: 'capacity used', format: '.0%', what: 'capacity used after the last task (fraction of the weights some task owns)' },
  { key: 'seconds', id: 'sweep-seconds', title: 'Time per run', axis: 'seconds', format: '.0f', what: 'training and evaluation seconds per run' },
] as const;

/**
 * The x axis of the sweep figures: the numeric axis with most values (density in the paper's
 * grids); the other axes make the series (method). Without a numeric axis the configurations
 * are the x axis.
 */
function layout(state: SweepState): { x?: string; series: string[] } {
  const numeric = state.axes.filter((a) => state.points.every((p) => typeof p.axes[a] === 'number'));
  const distinct = (a: string) => new Set(state.points.map((p) => p.axes[a])).size;
  const x = numeric.sort((a, b) => distinct(b) - distinct(a))[0];
  return { x, series: state.axes.filter((a) => a !== x) };
}

function metricFigure(state: SweepState, rows: SummaryRow[], metric: (typeof METRICS)[number], top: Record<string, unknown>): Figure | undefined {
  const { x, series } = layout(state);
  const labels = axisLabels(state.axes);
  const seriesOf = (l: Record<string, string>) => series.map((a) => (series.length > 1 ? `${labels.get(a)}=${l[a]}` : l[a])).join(', ') || state.name;
  const xOf = (axes: Record<string, unknown>, configuration: string) => (x ? axes[x] : configuration);
  const means = rows.flatMap((r) => {
    const s = r[metric.key];
    return s ? [{ x: xOf(r.axes, r.configuration), series: seriesOf(r.labels), mean: s.mean, low: s.mean - s.sd, high: s.mean + s.sd, seeds: s.n }] : [];
  });
  if (means.length === 0) return undefined;
  const seeds = state.points.flatMap((p) => {
    const v = p.state === 'done' ? p.results?.[metric.key] : undefined;
    return typeof v === 'number' ? [{ x: xOf(p.axes, p.configuration), series: seriesOf(p.labels), value: v, seed: p.seed }] : [];
  });
  const xTitle = x ? labels.get(x)! : 'configuration';
  const xEnc = x ? { field: 'x', type: 'quantitative', title: xTitle, scale: { zero: false, nice: false, padding: 16 } } : { field: 'x', type: 'nominal', title: xTitle, axis: { labelAngle: -30 } };
  const color = { field: 'series', type: 'nominal', title: series.map((a) => labels.get(a)).join(', ') || 'sweep', scale: { scheme: 'tableau10' } };
  const y = { type: 'quantitative', axis: { format: metric.format, title: metric.axis }, scale: { zero: metric.key !== 'average_accuracy' } };
  const seriesName = series.map((a) => labels.get(a)).join(', ');
  return {
    id: metric.id,
    title: `${metric.title}${x ? ` vs ${xTitle}` : ''}`,
    caption:
      `Mean ${metric.what} over the seeds, per configuration${seriesName ? `, one line per ${seriesName}` : ''}; ` +
      'bars: mean ± one standard deviation over the seeds; small circles: the seeds one by one.',
    spec: {
      ...top,
      title: `${metric.title}${x ? ` vs ${xTitle}` : ''}`,
      width: 520,
      height: 300,
      layer: [
        { data: { values: seeds }, mark: { type: 'point', size: 28, opacity: 0.45 }, encoding: { x: xEnc, y: { ...y, field: 'value' }, color, tooltip: [{ field: 'seed' }, { field: 'value', format: metric.format }] } },
        { data: { values: means }, mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x: xEnc, y: { ...y, field: 'low' }, y2: { field: 'high' }, color } },
        { data: { values: means }, mark: { type: 'line', point: { filled: true, size: 60 }, strokeWidth: 2 }, encoding: { x: xEnc, y: { ...y, field: 'mean' }, color } },
      ],
    } as unknown as TopLevelSpec,
  };
}

/** The summary table as HTML (the same cells as summary.md). */
function summaryHtml(state: SweepState, rows: SummaryRow[]): string {
  const [head, ...body] = summaryCells(rows, state.axes);
  return `<table class="summary"><thead><tr>${head!.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${body
    .map((r) => `<tr>${r.map((c, i) => (i < state.axes.length ? `<th scope="row">${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/**
 * The report of a sweep directory: accuracy, forgetting, capacity used and time against the
 * sweep's numeric axis (density), one line per method, error bars over the seeds, and the
 * summary table; written to `<outDir>/report.html` and `<outDir>/figures/*.png` like a run report.
 */
export async function buildSweepReport(sweepDir: string, outDir: string, options: ReportOptions = {}): Promise<ReportResult> {
  const dir = resolve(sweepDir);
  const state = readSweepState(dir);
  const rows = summarize(state);
  const out = resolve(outDir);
  const top = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: { font: options.fontFamily ?? DEFAULT_FONT_FAMILY, background: 'white', padding: 12 } };
  const figures: Figure[] = [];
  const notes: FigureNote[] = [];
  for (const metric of METRICS) {
    const figure = metricFigure(state, rows, metric, top);
    if (figure) figures.push(figure);
    else notes.push({ id: metric.id, title: metric.title, reason: `no finished point records ${metric.key}` });
  }
  const { rendered, files } = await renderFigures(figures, out, options);
  const done = state.points.filter((p) => p.state === 'done').length;
  const title = options.title ?? `supermask sweep report: ${state.name}`;
  const html = join(out, 'report.html');
  writeFileAtomic(
    html,
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${REPORT_STYLE}</style>
</head>
<body>
<main>
<header>
<h1>${escapeHtml(title)}</h1>
<p>${state.points.length} points (${done} done, ${state.points.filter((p) => p.state === 'failed').length} failed): axes ${state.axes.map((a) => `<code>${escapeHtml(a)}</code>`).join(', ') || 'none'}; seeds ${escapeHtml(state.seeds.join(', '))}</p>
<p class="muted">Generated ${escapeHtml((options.now ?? new Date()).toISOString())} from <code>${escapeHtml(join(dir, SWEEP_STATE_FILE))}</code> (sweep file <code>${escapeHtml(state.sweep_file)}</code>)</p>
</header>
<h2 id="results">Summary</h2>
${summaryHtml(state, rows)}
<p class="muted">Mean ± standard deviation over the seeds that finished. Forgetting and capacity in percentage points / percent.</p>
<h2 id="figures">Figures</h2>
${figureSection(rendered)}
${notesSection(notes)}
</main>
</body>
</html>
`,
  );
  return {
    outDir: out,
    html,
    pngs: files.flatMap((f) => (f.png ? [f.png] : [])),
    figures: files,
    notes,
    runs: state.points.filter((p) => p.state === 'done').map((p) => ({ label: p.id, dir: join(dir, p.dir) })),
  };
}
