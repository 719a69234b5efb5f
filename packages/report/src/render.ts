import { Resvg } from '@resvg/resvg-js';

export { renderSvg } from './svg.js';

/**
 * Headless rendering: Vega-Lite compiles to Vega, a Vega View without a renderer draws the
 * scenegraph to an SVG string, and resvg rasterises the SVG to a PNG. No browser, no canvas
 * package, no network (the data is inline in every spec).
 */

export interface PngOptions {
  /** Pixels per SVG pixel (default 2, for sharp text). */
  scale?: number;
  /** Font used when an SVG's font family is not installed (default "DejaVu Sans", Debian's fonts-dejavu). */
  defaultFontFamily?: string;
  /** Extra directories of .ttf/.otf fonts, on top of the system fonts. */
  fontDirs?: string[];
}

export const DEFAULT_PNG_FONT = 'DejaVu Sans';

/** Rasterises an SVG with the system fonts (fontconfig's directories, e.g. /usr/share/fonts). */
export function svgToPng(svg: string, options: PngOptions = {}): Uint8Array {
  const family = options.defaultFontFamily ?? DEFAULT_PNG_FONT;
  const resvg = new Resvg(svg, {
    font: { loadSystemFonts: true, fontDirs: options.fontDirs ?? [], defaultFontFamily: family, sansSerifFamily: family },
    fitTo: { mode: 'zoom', value: options.scale ?? 2 },
    background: 'white',
    logLevel: 'off',
  });
  return new Uint8Array(resvg.render().asPng());
}

/**
 * Makes the ids of an SVG unique within a page that inlines several (Vega numbers clip paths and
 * gradients per process, and a page must not hold two elements with one id).
 */
export function prefixSvgIds(svg: string, prefix: string): string {
  return svg.replace(/\bid="([^"]+)"/g, `id="${prefix}$1"`).replace(/url\(#([^)]+)\)/g, `url(#${prefix}$1)`).replace(/href="#([^"]+)"/g, `href="#${prefix}$1"`);
}
