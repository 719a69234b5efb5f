import { Error as ERROR_LEVEL, logger, parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** The SVG of a Vega-Lite spec. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Vega-Lite's layout notes (e.g. on faceted independent scales) would go to the console.
  const vega = compile(spec, { logger: logger(ERROR_LEVEL) }).spec;
  const view = new View(parse(vega), { renderer: 'none', logLevel: ERROR_LEVEL });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
