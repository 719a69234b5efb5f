import type { RunData } from './results.js';
import type { Figure, FigureNote } from './specs.js';

/** A figure as placed in the page: its spec, its SVG (ids made unique) and its PNG's path relative to report.html. */
export interface RenderedFigure {
  figure: Figure;
  svg: string;
  png?: string;
}

export interface HtmlInput {
  title: string;
  runs: readonly RunData[];
  figures: readonly RenderedFigure[];
  notes: readonly FigureNote[];
  generatedAt: Date;
  /** Version of @supermask/report, recorded in the page. */
  version: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** JSON for an inline `<script type="application/json">`: nothing in it can close the element. */
function inlineJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

const pct = (v: number | undefined) => (typeof v === 'number' && Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : '–');
const points = (v: number | undefined) => (typeof v === 'number' && Number.isFinite(v) ? `${(100 * v).toFixed(2)}` : '–');

function seconds(s: number): string {
  if (!Number.isFinite(s)) return '–';
  if (s < 120) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 120 ? `${m} min ${Math.round(s - 60 * m)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Component options, compactly: `{epochs: 1, optimizer: adam}`. */
function compactOptions(options: unknown): string {
  if (!options || typeof options !== 'object' || Object.keys(options).length === 0) return '';
  return JSON.stringify(options)
    .replace(/"([^"]+)":/g, '$1: ')
    .replace(/"/g, '')
    .replace(/,/g, ', ');
}

function component(ref: { id?: unknown; options?: unknown } | undefined): string {
  if (!ref || typeof ref.id !== 'string') return '–';
  const opts = compactOptions(ref.options);
  return `<strong>${escapeHtml(ref.id)}</strong>${opts ? ` <code>${escapeHtml(opts)}</code>` : ''}`;
}

function configRows(runs: readonly RunData[]): string {
  const rows: [string, (r: RunData) => string][] = [
    ['directory', (r) => `<code>${escapeHtml(r.dir)}</code>`],
    ['strategy', (r) => component(r.results.config.strategy)],
    ['backbone', (r) => component(r.results.config.backbone)],
    ['dataset', (r) => `${component(r.results.config.dataset)}${r.results.dataset ? ` <span class="muted">(${escapeHtml(r.results.dataset.source)})</span>` : ''}`],
    ['stream', (r) => `${component(r.results.config.stream)}${r.results.stream ? ` <span class="muted">${r.results.stream.tasks} tasks</span>` : ''}`],
    ['mask scorer', (r) => component(r.results.config.mask_scorer)],
    ['ownership policy', (r) => component(r.results.config.ownership_policy)],
    ['knowledge transfer', (r) => component(r.results.config.knowledge_transfer)],
    ['task inference', (r) => component(r.results.config.task_inference)],
    ['seed', (r) => escapeHtml(String(r.results.seed))],
    ['backend', (r) => `<strong>${escapeHtml(r.results.backend)}</strong>${r.results.backend_module ? ` <span class="muted">(${escapeHtml(r.results.backend_module)})</span>` : ''}`],
    ['versions', (r) => escapeHtml(Object.entries(r.results.versions ?? {}).map(([k, v]) => `${k} ${v}`).join(', '))],
    ['started', (r) => escapeHtml(String(r.results.started_at ?? '–'))],
    ['wall time', (r) => seconds(r.results.wall_time_seconds)],
  ];
  const head = `<tr><th></th>${runs.map((r) => `<th>${escapeHtml(r.label)}</th>`).join('')}</tr>`;
  return `<table class="config"><thead>${head}</thead><tbody>${rows
    .map(([name, cell]) => `<tr><th scope="row">${name}</th>${runs.map((r) => `<td>${cell(r)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function summaryTable(runs: readonly RunData[]): string {
  const inference = runs.some((r) => r.results.task_inference);
  const head = `<tr><th>run</th><th>tasks</th><th>average accuracy</th><th>forgetting (points)</th><th>backward transfer (points)</th>${
    inference ? '<th>task-id accuracy</th><th>accuracy without task id</th>' : ''
  }<th>wall time</th></tr>`;
  const rows = runs
    .map((r) => {
      const ti = r.results.task_inference;
      return `<tr><th scope="row">${escapeHtml(r.label)}</th><td>${r.results.accuracy_matrix.length}</td><td>${pct(r.results.average_accuracy)}</td><td>${points(r.results.forgetting)}</td><td>${points(r.results.backward_transfer)}</td>${
        inference ? `<td>${pct(ti?.task_id_accuracy)}</td><td>${pct(ti?.average_accuracy)}</td>` : ''
      }<td>${seconds(r.results.wall_time_seconds)}</td></tr>`;
    })
    .join('');
  return `<table class="summary"><thead>${head}</thead><tbody>${rows}</tbody></table>`;
}

function taskTables(runs: readonly RunData[]): string {
  return runs
    .map((r) => {
      const rows = r.results.tasks
        .map((t, i) => {
          const phases = t.phases
            .map((p) => `${escapeHtml(p.name)}: ${p.epochs ?? '?'} ep, loss ${typeof p.final_loss === 'number' ? p.final_loss.toFixed(4) : '–'}, train ${pct(p.train_accuracy ?? undefined)}`)
            .join('<br>');
          const last = r.results.accuracy_matrix[r.results.accuracy_matrix.length - 1]?.[i];
          return `<tr><td>${i + 1}</td><td>${escapeHtml(t.name)}</td><td>${t.train_examples ?? '–'} / ${t.test_examples ?? '–'}</td><td>${phases}</td><td>${pct(r.results.accuracy_matrix[i]?.[i] ?? undefined)}</td><td>${pct(last ?? undefined)}</td></tr>`;
        })
        .join('');
      return `<details${runs.length === 1 ? ' open' : ''}><summary>${escapeHtml(r.label)}: ${r.results.tasks.length} tasks</summary><table class="tasks"><thead><tr><th>task</th><th>name</th><th>train / test examples</th><th>phases</th><th>accuracy when learned</th><th>final accuracy</th></tr></thead><tbody>${rows}</tbody></table></details>`;
    })
    .join('\n');
}

/** The page style shared by run and sweep reports. */
export const REPORT_STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1d232b; font: 15px/1.5 "DejaVu Sans", system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 32px 48px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header p { margin: 2px 0; color: #4a5562; }
h2 { margin: 32px 0 12px; font-size: 19px; border-bottom: 1px solid #d8dde3; padding-bottom: 4px; }
nav ol { margin: 8px 0 0; padding-left: 22px; columns: 2; }
.muted { color: #6b7682; }
code { font: 12px/1.4 "DejaVu Sans Mono", ui-monospace, monospace; background: #eef1f4; border-radius: 3px; padding: 1px 4px; word-break: break-word; }
table { border-collapse: collapse; background: white; margin: 4px 0 8px; font-size: 14px; }
th, td { border: 1px solid #dde2e7; padding: 5px 10px; text-align: left; vertical-align: top; }
thead th { background: #eef1f4; }
table.summary td { text-align: right; font-variant-numeric: tabular-nums; }
table.config td { max-width: 520px; }
figure { margin: 0 0 22px; padding: 16px; background: white; border: 1px solid #dde2e7; border-radius: 6px; }
figure .chart { overflow-x: auto; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { margin-top: 10px; color: #333d48; font-size: 14px; }
figcaption a { font-size: 13px; }
ul.notes li { margin: 4px 0; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: bold; }
`;

/** The figures of a page, numbered, each with its inline SVG, caption and PNG link. */
export function figureSection(figures: readonly RenderedFigure[]): string {
  return figures
    .map(
      (f, i) => `<figure id="fig-${f.figure.id}">
<div class="chart">${f.svg}</div>
<figcaption><strong>Figure ${i + 1}. ${escapeHtml(f.figure.title)}.</strong> ${escapeHtml(f.figure.caption)}${f.png ? ` <a href="${escapeHtml(f.png)}">PNG</a>` : ''}</figcaption>
</figure>`,
    )
    .join('\n');
}

/** The "Not shown" list of figures a page leaves out, with the reason of each (empty when none). */
export function notesSection(notes: readonly FigureNote[]): string {
  return notes.length > 0
    ? `<h2 id="not-shown">Not shown</h2><ul class="notes">${notes.map((n) => `<li><strong>${escapeHtml(n.title)}</strong>: ${escapeHtml(n.reason)}.</li>`).join('')}</ul>`
    : '';
}

/** The report page: self-contained (inline SVGs, inline CSS, data as inline JSON; no script runs, nothing is fetched). */
export function reportHtml(input: HtmlInput): string {
  const { runs, figures, notes } = input;
  const names = runs.map((r) => escapeHtml(r.label)).join(', ');
  const nav = figures.map((f) => `<li><a href="#fig-${f.figure.id}">${escapeHtml(f.figure.title)}</a></li>`).join('');
  const figureBlocks = figureSection(figures);
  const noteBlock = notesSection(notes);
  const embedded = {
    generator: `@supermask/report ${input.version}`,
    generated_at: input.generatedAt.toISOString(),
    runs: runs.map((r) => ({
      label: r.label,
      dir: r.dir,
      name: r.results.name,
      backend: r.results.backend,
      config: r.results.config,
      average_accuracy: r.results.average_accuracy,
      forgetting: r.results.forgetting,
      backward_transfer: r.results.backward_transfer,
      accuracy_matrix: r.results.accuracy_matrix,
    })),
    figures: figures.map((f) => ({ id: f.figure.id, title: f.figure.title, png: f.png, spec: f.figure.spec })),
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="@supermask/report ${escapeHtml(input.version)}">
<title>${escapeHtml(input.title)}</title>
<style>${REPORT_STYLE}</style>
</head>
<body>
<main>
<header>
<h1>${escapeHtml(input.title)}</h1>
<p>${runs.length === 1 ? 'Run' : `${runs.length} runs compared`}: <strong>${names}</strong></p>
<p class="muted">Generated ${escapeHtml(input.generatedAt.toISOString())} by @supermask/report ${escapeHtml(input.version)} from ${runs.map((r) => `<code>${escapeHtml(r.file)}</code>`).join(', ')}</p>
<nav><ol>${nav}${notes.length > 0 ? '<li><a href="#not-shown">Not shown</a></li>' : ''}</ol></nav>
</header>
<h2 id="results">Results</h2>
${summaryTable(runs)}
<p class="muted">Average accuracy: mean over tasks of the final accuracy. Forgetting: mean drop of each earlier task from its best accuracy, in percentage points (0: nothing forgotten). Backward transfer: mean change of each earlier task since it was learned.</p>
<h2 id="config">Runs</h2>
${configRows(runs)}
<h2 id="figures">Figures</h2>
${figureBlocks}
${noteBlock}
<h2 id="tasks">Tasks</h2>
${taskTables(runs)}
</main>
<script type="application/json" id="supermask-report-data">${inlineJson(embedded)}</script>
</body>
</html>
`;
}
