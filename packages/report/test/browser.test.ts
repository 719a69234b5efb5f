import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { buildReport } from '@supermask/report';
import { makeRuns } from './fixtures.js';
import { pngSize } from './png.js';

/** Debian's Chromium (`apt-get install chromium`); SUPERMASK_CHROMIUM overrides the path. */
const CHROMIUM = process.env.SUPERMASK_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const present = existsSync(CHROMIUM);
/** In CI (.ci/run sets CI=true after installing chromium) a missing browser is a failure, not a skip. */
const required = process.env.CI === 'true';
if (!present && !required) {
  // A fresh machine with only Node and npm has no browser: say so plainly and skip. CI (.ci/run)
  // installs Debian's chromium, so a green CI has rendered the report in a real browser.
  console.warn(
    `skipping the browser test: no Chromium at ${CHROMIUM} (install it with \`apt-get install -y --no-install-recommends chromium\`, ` +
      'or set SUPERMASK_CHROMIUM to a Chromium binary; CI installs it and runs this test)',
  );
}

describe('report.html in headless Chromium', () => {
  it.skipIf(!present && !required)('renders every figure without console errors or network requests, and takes a screenshot', async () => {
    if (!present) throw new Error(`CI=true but Chromium is not installed at ${CHROMIUM}; .ci/run installs it with apt-get (chromium fonts-dejavu-core)`);
    const root = mkdtempSync(join(tmpdir(), 'supermask-report-browser-'));
    const dirs = await makeRuns(join(root, 'runs'));
    const report = await buildReport([dirs.supsup, dirs.exssnet], join(root, 'report'));

    // Playwright starts every launch with a fresh temporary profile (its own --user-data-dir).
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      const external: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => {
        if (!/^(file|data|about):/.test(r.url())) external.push(r.url());
      });
      const response = await page.goto(pathToFileURL(report.html).href, { waitUntil: 'load' });
      expect(response?.ok() ?? true).toBe(true);

      expect(await page.title()).toContain('report-test-supsup');
      expect(await page.locator('figure').count()).toBe(report.figures.length);
      expect(await page.locator('svg').count()).toBeGreaterThanOrEqual(report.figures.length);
      // Each figure's SVG is laid out with a real size and drew marks and text.
      const figures = await page.$$eval('figure', (els) =>
        els.map((f) => {
          const svg = f.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          return { id: f.id, width: box?.width ?? 0, height: box?.height ?? 0, paths: svg?.querySelectorAll('path').length ?? 0, text: svg?.textContent ?? '' };
        }),
      );
      expect(figures.map((f) => f.id)).toEqual(report.figures.map((f) => `fig-${f.id}`));
      for (const f of figures) {
        expect(f.width, f.id).toBeGreaterThan(200);
        expect(f.height, f.id).toBeGreaterThan(100);
        expect(f.paths, f.id).toBeGreaterThan(5);
      }
      // The comparison figure shows both runs.
      const comparison = figures.find((f) => f.id === 'fig-comparison')!;
      expect(comparison.text).toContain('report-test-supsup');
      expect(comparison.text).toContain('report-test-exssnet-kkt');

      const screenshot = join(report.outDir, 'screenshot.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      const { width, height, bytes } = pngSize(screenshot);
      expect(width).toBe(1280);
      expect(height).toBeGreaterThan(2000);
      expect(bytes).toBeGreaterThan(50_000);

      expect(errors).toEqual([]);
      expect(external).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
