import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '@supermask/core';
import { reportHtml, type RenderedFigure } from './html.js';
import { prefixSvgIds, renderSvg, svgToPng, type PngOptions } from './render.js';
import { readRuns, type RunData } from './results.js';
import { buildSweepReport, isSweepDirectory } from './sweep.js';
import { buildFigures, type Figure, type FigureNote, type SpecOptions } from './specs.js';

export interface ReportOptions extends SpecOptions, PngOptions {
  /** Page title (default: "supermask report: <run names>"). */
  title?: string;
  /** Write a PNG of every figure into `<outDir>/figures/` (default true). */
  png?: boolean;
  /** Time stamp written into the page (default: now). */
  now?: Date;
}

export interface ReportFigureFile {
  id: string;
  title: string;
  /** Absolute path of the figure's PNG (when PNGs are written). */
  png?: string;
}

export interface ReportResult {
  outDir: string;
  /** Absolute path of report.html. */
  html: string;
  /** Absolute paths of the PNG files, one per figure, in page order. */
  pngs: string[];
  figures: ReportFigureFile[];
  /** Figures (or runs in a figure) left out because their data is absent. */
  notes: FigureNote[];
  runs: { label: string; dir: string }[];
}

export const FIGURES_DIR = 'figures';

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Renders each figure to SVG (ids made unique in the page) and, unless `png: false`, writes `<out>/figures/<id>.png`. */
export async function renderFigures(figures: readonly Figure[], out: string, options: ReportOptions = {}): Promise<{ rendered: RenderedFigure[]; files: ReportFigureFile[] }> {
  const writePng = options.png ?? true;
  const rendered: RenderedFigure[] = [];
  const files: ReportFigureFile[] = [];
  let n = 0;
  for (const figure of figures) {
    const svg = await renderSvg(figure.spec);
    let png: string | undefined;
    if (writePng) {
      png = join(out, FIGURES_DIR, `${figure.id}.png`);
      writeFileAtomic(png, svgToPng(svg, options));
    }
    rendered.push({ figure, svg: prefixSvgIds(svg, `f${++n}-`), ...(png ? { png: `${FIGURES_DIR}/${figure.id}.png` } : {}) });
    files.push({ id: figure.id, title: figure.title, ...(png ? { png } : {}) });
  }
  return { rendered, files };
}

/**
 * Reads each run directory's results.json, renders the report's figures headless (Vega-Lite ->
 * Vega -> SVG; resvg -> PNG) and writes `<outDir>/report.html` (self-contained) and
 * `<outDir>/figures/<figure>.png`, each file atomically. Several runs are compared in the same
 * figures. A missing or malformed results.json is a DataError (exit code 3) naming the file.
 * A single sweep directory (sweep.json) gets the sweep report instead (see buildSweepReport).
 */
export async function buildReport(runDirs: readonly string[], outDir: string, options: ReportOptions = {}): Promise<ReportResult> {
  if (runDirs.length === 1 && isSweepDirectory(runDirs[0]!)) return buildSweepReport(runDirs[0]!, outDir, options);
  const runs: RunData[] = readRuns(runDirs);
  const out = resolve(outDir);
  const plan = buildFigures(runs, options);
  const { rendered, files } = await renderFigures(plan.figures, out, options);
  const html = join(out, 'report.html');
  writeFileAtomic(
    html,
    reportHtml({
      title: options.title ?? `supermask report: ${runs.map((r) => r.label).join(' vs ')}`,
      runs,
      figures: rendered,
      notes: plan.notes,
      generatedAt: options.now ?? new Date(),
      version: packageVersion(),
    }),
  );
  return {
    outDir: out,
    html,
    pngs: files.flatMap((f) => (f.png ? [f.png] : [])),
    figures: files,
    notes: plan.notes,
    runs: runs.map((r) => ({ label: r.label, dir: r.dir })),
  };
}
