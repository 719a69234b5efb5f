/**
 * Browser entry of @supermask/report (`@supermask/report/browser`): the figure specs of
 * `supermask report`, their data tables, the results.json check and SVG rendering by Vega, with
 * no file access and no PNG rasteriser.
 */
import { assertResults } from './check-results.js';
import type { RunData } from './results.js';

export * from './data.js';
export { assertResults, checkResults } from './check-results.js';
export { buildFigures, DEFAULT_FONT_FAMILY, type Figure, type FigureNote, type FigurePlan, type SpecOptions } from './specs.js';
export { renderSvg } from './svg.js';
export type { RunData } from './results.js';

/**
 * A run for the figures from a parsed results.json (a dropped file, or a run the page just made);
 * `file` names it in errors and in `RunData.file`. Throws DataError listing the problems.
 */
export function runFromResults(value: unknown, file: string): RunData {
  const results = assertResults(value, file);
  return { dir: '', file, label: results.name, results, evaluations: [], epochs: [] };
}
