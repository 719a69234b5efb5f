export * from './data.js';
export { escapeHtml, figureSection, REPORT_STYLE, reportHtml, type HtmlInput, type RenderedFigure } from './html.js';
export { DEFAULT_PNG_FONT, prefixSvgIds, renderSvg, svgToPng, type PngOptions } from './render.js';
export { buildReport, FIGURES_DIR, renderFigures, type ReportFigureFile, type ReportOptions, type ReportResult } from './report.js';
export { checkResults, readEvaluations, readRun, readRuns, runDirectory, type EvaluationFile, type RunData } from './results.js';
export { readMetricsCsv, type EpochRow } from './metrics-csv.js';
export { buildFigures, DEFAULT_FONT_FAMILY, percentAxis, percentDecimals, spanOf, type Figure, type FigureNote, type FigurePlan, type SpecOptions } from './specs.js';
export { buildSweepReport, isSweepDirectory } from './sweep.js';
