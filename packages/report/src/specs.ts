import type { TopLevelSpec } from 'vega-lite';
import {
  ALL_LAYERS,
  accuracyCells,
  finalMetrics,
  hasKkt,
  hasTaskInference,
  inferenceBars,
  kktCells,
  metricsOverTime,
  ownershipPoints,
  ownershipStats,
  phaseTimings,
} from './data.js';
import type { RunData } from './results.js';
import { epochCurvesFigure } from './curves.js';

/** A figure of the report: a Vega-Lite spec with its data inline, a title and a caption. */
export interface Figure {
  /** File stem of its PNG and anchor in report.html, e.g. `accuracy-matrix`. */
  id: string;
  title: string;
  caption: string;
  spec: TopLevelSpec;
}

/** A figure left out (or a run left out of a figure) because its data is absent, with the reason. */
export interface FigureNote {
  id: string;
  title: string;
  reason: string;
}

export interface FigurePlan {
  figures: Figure[];
  notes: FigureNote[];
}

export interface SpecOptions {
  /** Font family of every text in the figures (a CSS list). */
  fontFamily?: string;
}

/** What every figure builder gets: the shared top-level spec properties, and whether the report compares runs. */
export interface Ctx {
  top: Record<string, unknown>;
  compare: boolean;
}

export const DEFAULT_FONT_FAMILY = 'DejaVu Sans, Verdana, Helvetica, Arial, sans-serif';
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
/** Tasks up to which heatmap cells carry their value as text. */
const LABELLED_CELLS = 12;

function config(font: string) {
  return {
    font,
    background: 'white',
    padding: 12,
    view: { stroke: '#d0d0d0' },
    title: { fontSize: 15, fontWeight: 'bold' as const, anchor: 'start' as const, offset: 12 },
    axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' as const, titlePadding: 8, gridColor: '#ececec' },
    legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 320, titleLimit: 320 },
    header: { labelFontSize: 13, labelFontWeight: 'bold' as const, titleFontSize: 12, labelLimit: 400 },
  };
}

/** Size of a heatmap cell (or band) for `n` tasks, so a chart stays between about 120 and 520 pixels. */
function step(n: number): number {
  if (n <= 6) return 60;
  return n <= LABELLED_CELLS ? 48 : Math.max(4, Math.floor(520 / n));
}

function panelWidth(runs: number): number {
  return runs <= 1 ? 520 : Math.max(240, Math.floor(1000 / runs) - 70);
}

const taskAxis = (title: string) => ({ title, labelAngle: 0 });
/**
 * Decimals of the labels of a percentage axis spanning `span` (a fraction of 1): enough that
 * ticks as fine as a tenth of the span get distinct labels (96-100%: 96.0%, 96.5%, ...).
 */
export function percentDecimals(span: number): number {
  if (!(span > 0)) return 1;
  return Math.max(0, Math.min(4, -Math.floor(Math.log10((span / 10) * 100))));
}

/** Span of the values (and of a fixed domain, when given). */
export function spanOf(values: readonly number[], domain?: readonly number[]): number {
  const all = [...values, ...(domain ?? [])].filter((v) => Number.isFinite(v));
  return all.length === 0 ? 1 : Math.max(...all) - Math.min(...all);
}

/**
 * A percentage axis whose label format follows the range shown, with ticks never closer than the
 * last printed digit, so no two labels repeat.
 */
export const percentAxis = (title: string | null, span = 1) => {
  const d = percentDecimals(span);
  return { title, format: `.${d}%`, tickMinStep: 10 ** -(d + 2) };
};

/**
 * Wraps a per-run chart: as is in a single-run report; in a comparison, faceted into one column
 * (or row) per run, headed by the run's name, even when only one of the runs has the data.
 */
export function perRun(
  runs: readonly RunData[],
  data: unknown[],
  inner: Record<string, unknown>,
  top: Record<string, unknown>,
  layout: { compare: boolean; rows?: boolean; sharedY?: boolean },
): TopLevelSpec {
  if (!layout.compare) return { ...top, data: { values: data }, ...inner } as unknown as TopLevelSpec;
  const facet = {
    field: 'run',
    type: 'nominal',
    sort: runs.map((r) => r.label),
    title: null,
    header: layout.rows ? { labelAngle: 0, labelOrient: 'top', labelAnchor: 'start' } : {},
  };
  return {
    ...top,
    data: { values: data },
    facet: layout.rows ? { row: facet } : { column: facet },
    spec: inner,
    resolve: { scale: { x: 'independent', y: layout.sharedY ? 'shared' : 'independent' } },
  } as unknown as TopLevelSpec;
}

export function runColor(runs: readonly RunData[]) {
  return { field: 'run', type: 'nominal' as const, title: 'run', sort: runs.map((r) => r.label), scale: { domain: runs.map((r) => r.label), scheme: 'tableau10' } };
}

function maxTasks(runs: readonly RunData[]): number {
  return Math.max(...runs.map((r) => r.results.accuracy_matrix.length));
}

function lowerBound(values: number[], floor = 0): number {
  const min = Math.min(...values);
  return Math.max(floor, Math.min(0.5, Math.floor((min - 0.02) * 10) / 10));
}

function heatmap(opts: {
  x: string;
  xTitle: string;
  y: string;
  yTitle: string;
  value: string;
  valueTitle: string;
  domain: [number, number];
  scheme: string;
  tasks: number;
  outline?: { field: string; title: string };
}): Record<string, unknown> {
  const size = step(opts.tasks);
  const mid = (opts.domain[0] + opts.domain[1]) / 2;
  const layers: Record<string, unknown>[] = [
    {
      mark: { type: 'rect', stroke: 'white', strokeWidth: opts.tasks <= LABELLED_CELLS ? 1 : 0 },
      encoding: {
        color: { field: opts.value, type: 'quantitative', title: opts.valueTitle, scale: { domain: opts.domain, scheme: opts.scheme, clamp: true }, legend: { format: '.0%', gradientLength: 140 } },
      },
    },
  ];
  if (opts.outline) {
    layers.push({
      transform: [{ filter: `datum.${opts.outline.field}` }, { calculate: `'${opts.outline.title}'`, as: 'outline' }],
      mark: { type: 'rect', filled: false, strokeWidth: 3 },
      encoding: {
        stroke: { field: 'outline', type: 'nominal', title: null, scale: { range: ['#111111'] }, legend: { symbolType: 'square', symbolStrokeWidth: 2.5 } },
      },
    });
  }
  if (opts.tasks <= LABELLED_CELLS) {
    layers.push({
      mark: { type: 'text', fontSize: opts.tasks <= 6 ? 12 : 10 },
      encoding: {
        text: { field: opts.value, type: 'quantitative', format: '.1%' },
        color: { condition: { test: `datum.${opts.value} >= ${mid}`, value: 'white' }, value: '#222222' },
      },
    });
  }
  return {
    width: { step: size },
    height: { step: size },
    encoding: {
      x: { field: opts.x, type: 'ordinal', axis: taskAxis(opts.xTitle) },
      y: { field: opts.y, type: 'ordinal', axis: taskAxis(opts.yTitle) },
    },
    layer: layers,
  };
}

function accuracyMatrixFigure(runs: readonly RunData[], { top, compare }: Ctx): Figure {
  const cells = accuracyCells(runs);
  const inner = heatmap({
    x: 'task',
    xTitle: 'task evaluated',
    y: 'after',
    yTitle: 'after training task',
    value: 'accuracy',
    valueTitle: 'accuracy',
    domain: [lowerBound(cells.map((c) => c.accuracy)), 1],
    scheme: 'blues',
    tasks: maxTasks(runs),
  });
  return {
    id: 'accuracy-matrix',
    title: 'Accuracy matrix',
    caption:
      'Test accuracy on each task (column) after training each task (row); the diagonal is the accuracy right after learning a task. ' +
      'A column that keeps its value down the rows means nothing was forgotten.' +
      (compare ? ' One panel per run.' : ''),
    spec: perRun(runs, cells, inner, { ...top, title: 'Accuracy matrix' }, { compare }),
  };
}

function taskAccuracyFigure(runs: readonly RunData[], { top, compare }: Ctx): Figure {
  const cells = accuracyCells(runs);
  const T = maxTasks(runs);
  const many = T > 10;
  const inner = {
    width: panelWidth(runs.length),
    height: 260,
    mark: { type: 'line', point: !many, strokeWidth: 2 },
    encoding: {
      x: { field: 'after', type: 'quantitative', title: 'after training task', scale: { domain: [1, Math.max(2, T)] }, axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'accuracy', type: 'quantitative', axis: percentAxis('test accuracy', spanOf(cells.map((c) => c.accuracy))), scale: { zero: false } },
      color: many
        ? { field: 'task', type: 'quantitative', title: 'task', scale: { scheme: 'viridis' } }
        : { field: 'task', type: 'ordinal', title: 'task', scale: { scheme: 'tableau10' } },
      detail: { field: 'task', type: 'nominal' },
    },
  };
  return {
    id: 'task-accuracy',
    title: 'Accuracy of each task over the sequence',
    caption: 'Test accuracy of each task (one line per task) from the moment it is learned until the end of the run; a falling line is forgetting.' + (compare ? ' One panel per run.' : ''),
    spec: perRun(runs, cells, inner, { ...top, title: 'Accuracy of each task over the sequence' }, { compare }),
  };
}

/** y scale of forgetting: from min(0, lowest) to at least 5 points, so a flat zero line sits at the bottom, not mid-air. */
function forgettingScale(values: number[]) {
  return { domain: [Math.min(0, ...values), Math.max(0.05, ...values.map((v) => v * 1.15))], nice: true };
}

function metricsFigure(runs: readonly RunData[], { top, compare }: Ctx): Figure {
  const points = metricsOverTime(runs);
  const T = maxTasks(runs);
  const panel = (metric: 'average accuracy' | 'forgetting', yScale: Record<string, unknown>, xTitle: string | null) => ({
    title: { text: metric, fontSize: 13, offset: 6, frame: 'group' },
    width: 560,
    height: 170,
    transform: [{ filter: { field: 'metric', equal: metric } }],
    mark: { type: 'line', point: T <= 30, strokeWidth: 2 },
    encoding: {
      x: { field: 'after', type: 'quantitative', title: xTitle, scale: { domain: [1, Math.max(2, T)] }, axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'value', type: 'quantitative', axis: percentAxis(null, spanOf(points.filter((p) => p.metric === metric).map((p) => p.value), yScale.domain as number[] | undefined)), scale: yScale },
      color: runColor(runs),
    },
  });
  return {
    id: 'accuracy-forgetting',
    title: 'Average accuracy and forgetting over time',
    caption:
      'After each task: the average accuracy over the tasks learned so far, and the forgetting (mean drop of each earlier task from its best earlier accuracy), ' +
      'as results.json defines them for the whole run.' +
      (compare ? ' One line per run.' : ''),
    spec: {
      ...top,
      title: 'Average accuracy and forgetting over time',
      data: { values: points },
      spacing: 24,
      vconcat: [
        panel('average accuracy', { zero: false, nice: true }, null),
        panel('forgetting', forgettingScale(points.filter((p) => p.metric === 'forgetting').map((p) => p.value)), 'after training task'),
      ],
    } as unknown as TopLevelSpec,
  };
}

function finalComparisonFigure(runs: readonly RunData[], { top }: Ctx): Figure {
  const values = finalMetrics(runs);
  const panel = (metric: 'average accuracy' | 'forgetting', yScale: Record<string, unknown>) => ({
    title: { text: metric, fontSize: 13, offset: 6, frame: 'group' },
    width: Math.max(160, 70 * runs.length),
    height: 240,
    transform: [{ filter: { field: 'metric', equal: metric } }],
    encoding: {
      x: { field: 'run', type: 'nominal', sort: runs.map((r) => r.label), axis: null },
      y: { field: 'value', type: 'quantitative', axis: percentAxis(null, spanOf(values.filter((v) => v.metric === metric).map((v) => v.value), yScale.domain as number[] | undefined)), scale: yScale },
      color: runColor(runs),
    },
    layer: [{ mark: { type: 'bar' } }, { mark: { type: 'text', dy: -7, fontSize: 11 }, encoding: { text: { field: 'value', type: 'quantitative', format: '.2%' }, color: { value: '#222222' } } }],
  });
  return {
    id: 'comparison',
    title: 'Average accuracy and forgetting per run',
    caption: 'Final average accuracy (mean of the last row of the accuracy matrix) and forgetting of each run, side by side.',
    spec: {
      ...top,
      title: 'Average accuracy and forgetting per run',
      data: { values },
      spacing: 40,
      hconcat: [
        panel('average accuracy', { domain: [0, 1] }),
        panel('forgetting', forgettingScale(values.filter((v) => v.metric === 'forgetting').map((v) => v.value))),
      ],
    } as unknown as TopLevelSpec,
  };
}

function ownershipFigure(runs: readonly RunData[], { top, compare }: Ctx): Figure {
  const points = ownershipPoints(runs);
  const layers: string[] = [];
  for (const p of points) if (p.layer !== ALL_LAYERS && !layers.includes(p.layer)) layers.push(p.layer);
  const palette = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];
  const T = Math.max(...points.map((p) => p.task));
  const multi = compare;
  const facet: Record<string, unknown> = {
    column: { field: 'measure', type: 'nominal', sort: ['capacity used', 'overlap with earlier masks'], title: null },
  };
  if (multi) facet.row = { field: 'run', type: 'nominal', sort: runs.map((r) => r.label), title: null };
  return {
    id: 'ownership',
    title: 'Capacity used and mask overlap',
    caption:
      'Per task and per layer (black: all layers together): capacity used is the fraction of the weights owned by some task after that task; ' +
      "overlap is the fraction of the task's mask that earlier masks already use (ExSSNeT trains only the rest)." +
      (multi ? ' One row per run.' : ''),
    spec: {
      ...top,
      title: 'Capacity used and mask overlap',
      data: { values: points },
      facet,
      spec: {
        width: multi ? 360 : 300,
        height: 200,
        mark: { type: 'line', point: T <= 30, strokeWidth: 2 },
        encoding: {
          x: { field: 'task', type: 'quantitative', title: 'task', scale: { domain: [1, Math.max(2, T)] }, axis: { tickMinStep: 1, format: 'd' } },
          y: { field: 'value', type: 'quantitative', axis: percentAxis(null, 1), scale: { domain: [0, 1] } },
          color: {
            field: 'layer',
            type: 'nominal',
            title: 'layer',
            sort: [...layers, ALL_LAYERS],
            scale: { domain: [...layers, ALL_LAYERS], range: [...layers.map((_, i) => palette[i % palette.length]!), '#111111'] },
          },
        },
      },
    } as unknown as TopLevelSpec,
  };
}

function kktFigure(runs: readonly RunData[], { top, compare }: Ctx): Figure {
  const cells = kktCells(runs);
  const inner = heatmap({
    x: 'source',
    xTitle: 'earlier task probed',
    y: 'task',
    yTitle: 'new task',
    value: 'knn_accuracy',
    valueTitle: 'k-NN accuracy',
    domain: [lowerBound(cells.map((c) => Math.min(c.knn_accuracy, c.chance))), 1],
    scheme: 'oranges',
    tasks: Math.max(2, maxTasks(runs)),
    outline: { field: 'chosen', title: 'chosen: scores copied' },
  });
  return {
    id: 'kkt',
    title: 'KKT: k-NN accuracies and choices',
    caption:
      "Before each new task (row) KKT fits a k-NN on a sample of the task's data under each earlier task's mask (column); " +
      'the cell is its held-out accuracy, and the outlined cells are the earlier tasks whose scores initialised the new task. ' +
      'Chance is 1 / classes of the new task; in mode "best" nothing is copied unless the best task beats it.' +
      (compare ? ' One panel per run.' : ''),
    spec: perRun(runs, cells, inner, { ...top, title: 'KKT: k-NN accuracies and choices' }, { compare }),
  };
}

function inferenceFigure(runs: readonly RunData[], { top, compare }: Ctx): Figure {
  // One panel per evaluation: the run's own (results.json) and each `supermask eval` (evaluation-<method>.json).
  const bars = inferenceBars(runs).map((b) => ({ ...b, panel: compare ? `${b.run}: ${b.source}` : b.source }));
  const panels = [...new Set(bars.map((b) => b.panel))];
  const T = Math.max(...bars.map((b) => b.task));
  const measures = ['task-id accuracy', 'accuracy, inferred task id', 'accuracy, true task id'];
  const inner = {
    width: Math.min(640, Math.max(260, 60 * T)),
    height: 200,
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'task', type: 'ordinal', axis: taskAxis('task') },
      xOffset: { field: 'measure', type: 'nominal', sort: measures },
      y: { field: 'value', type: 'quantitative', axis: percentAxis(null, 1), scale: { domain: [0, 1] } },
      color: { field: 'measure', type: 'nominal', title: null, sort: measures, scale: { domain: measures, range: ['#54a24b', '#4c78a8', '#bab0ac'] } },
    },
  };
  return {
    id: 'task-inference',
    title: 'Task inference (no task id at test time)',
    caption:
      'Per task: how often the inferred task id was right, and the test accuracy with the inferred and with the true task id; ' +
      'one row per evaluation (at the end of the run, or later by `supermask eval`, read from evaluation-<method>.json).',
    spec: (panels.length === 1
      ? { ...top, title: 'Task inference (no task id at test time)', data: { values: bars }, ...inner }
      : {
          ...top,
          title: 'Task inference (no task id at test time)',
          data: { values: bars },
          facet: { row: { field: 'panel', type: 'nominal', sort: panels, title: null, header: { labelAngle: 0, labelOrient: 'top', labelAnchor: 'start' } } },
          spec: inner,
          resolve: { scale: { x: 'independent', y: 'shared' } },
        }) as unknown as TopLevelSpec,
  };
}

function timingsFigure(runs: readonly RunData[], { top, compare }: Ctx): Figure {
  const bars = phaseTimings(runs);
  const phases = [...new Map([...bars].sort((a, b) => a.order - b.order).map((b) => [b.phase, b.order])).keys()];
  const T = maxTasks(runs);
  const inner = {
    width: compare ? panelWidth(runs.length) : Math.min(520, Math.max(240, 56 * T)),
    height: 220,
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'task', type: 'ordinal', axis: taskAxis('task') },
      y: { field: 'seconds', type: 'quantitative', aggregate: 'sum', title: 'seconds' },
      color: { field: 'phase', type: 'nominal', title: 'phase', sort: phases, scale: { domain: phases, scheme: 'set2' } },
      order: { field: 'order', type: 'quantitative', sort: 'ascending' },
    },
  };
  return {
    id: 'phase-timings',
    title: 'Time per task and phase',
    caption:
      "Wall-clock seconds of each task's phases: knowledge transfer (when configured), each training phase, and the evaluation on every task learned so far." +
      (compare ? ' One panel per run, on a shared scale.' : ''),
    spec: perRun(runs, bars, inner, { ...top, title: 'Time per task and phase' }, { compare, sharedY: true }),
  };
}

/**
 * The figures of a report of `runs` (one run, or several compared), each a Vega-Lite spec with
 * its data inline; figures (or runs in them) whose data is absent are listed in `notes`.
 */
export function buildFigures(runs: readonly RunData[], options: SpecOptions = {}): FigurePlan {
  if (runs.length === 0) throw new Error('buildFigures needs at least one run');
  const ctx: Ctx = { top: { $schema: SCHEMA, config: config(options.fontFamily ?? DEFAULT_FONT_FAMILY) }, compare: runs.length > 1 };
  const figures: Figure[] = [accuracyMatrixFigure(runs, ctx), taskAccuracyFigure(runs, ctx), metricsFigure(runs, ctx)];
  const notes: FigureNote[] = [];
  if (ctx.compare) figures.push(finalComparisonFigure(runs, ctx));

  const optional = (
    id: string,
    title: string,
    has: (r: RunData) => boolean,
    absent: (r: RunData) => string,
    make: (rs: readonly RunData[], ctx: Ctx) => Figure,
  ) => {
    const withData = runs.filter(has);
    for (const r of runs.filter((x) => !has(x))) notes.push({ id, title, reason: `${runs.length > 1 ? `${r.label}: ` : ''}${absent(r)}` });
    if (withData.length > 0) figures.push(make(withData, ctx));
  };
  optional(
    'ownership',
    'Capacity used and mask overlap',
    (r) => ownershipStats(r) !== undefined,
    (r) => `no ownership records in results.json (ownership policy "${r.results.config.ownership_policy?.id ?? 'none'}")`,
    ownershipFigure,
  );
  optional(
    'kkt',
    'KKT: k-NN accuracies and choices',
    hasKkt,
    (r) => `no KKT transfer records (knowledge_transfer is "${r.results.config.knowledge_transfer?.id ?? 'none'}")`,
    kktFigure,
  );
  optional(
    'task-inference',
    'Task inference',
    hasTaskInference,
    (r) => `no task-inference evaluation (task_inference is "${r.results.config.task_inference?.id ?? 'oracle'}": the task id is given at test time)`,
    inferenceFigure,
  );
  // Runs written before metrics.csv existed simply have no curves (no note).
  const withEpochs = runs.filter((r) => r.epochs.length > 0);
  if (withEpochs.length > 0) figures.push(epochCurvesFigure(withEpochs, ctx));
  figures.push(timingsFigure(runs, ctx));
  return { figures, notes };
}
