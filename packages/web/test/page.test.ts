import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '@supermask/core';
import { serveStatic } from './serve.js';

/** Debian's Chromium (`apt-get install chromium`); SUPERMASK_CHROMIUM overrides the path. */
const CHROMIUM = process.env.SUPERMASK_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WEB = fileURLToPath(new URL('../', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OUTPUT = join(WEB, 'test-output');
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`skipping the web page tests: no Chromium at ${CHROMIUM} (apt-get install chromium, or set SUPERMASK_CHROMIUM)`);

/** The page's matrix cells: [row, col, value]. */
async function matrixCells(page: Page): Promise<[number, number, number][]> {
  return page.$$eval('#matrix td[data-value]', (tds) => tds.map((td) => [Number((td as HTMLElement).dataset.row), Number((td as HTMLElement).dataset.col), Number((td as HTMLElement).dataset.value)] as [number, number, number]));
}

/** Clicks Train and waits for the run to end; fails with the page's status and error when it did not finish. */
async function train(page: Page, timeout: number): Promise<void> {
  await page.click('#run');
  await page.waitForSelector('body[data-state=finished], body[data-state=failed]', { timeout });
  expect(await page.getAttribute('body', 'data-state'), `${await page.textContent('#status')} ${await page.textContent('#errors')}`).toBe('finished');
}

describe.skipIf(!hasChromium)('the web page in headless Chromium', () => {
  let site: Awaited<ReturnType<typeof serveStatic>>;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  const outside: string[] = [];
  const work = mkdtempSync(join(tmpdir(), 'supermask-web-'));

  beforeAll(async () => {
    const outDir = join(work, 'site');
    await build({ configFile: join(WEB, 'vite.config.ts'), logLevel: 'error', build: { outDir } });
    site = await serveStatic(outDir);
    // Playwright starts every launch with a fresh temporary profile (its own --user-data-dir).
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    // Every request that would leave the local server is recorded and blocked.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${site.origin}/`) || /^(data|blob):/.test(url)) return route.continue();
      outside.push(url);
      return route.abort();
    });
    context.on('request', (r) => {
      const url = r.url();
      if (!url.startsWith(`${site.origin}/`) && !/^(data|blob):/.test(url)) outside.push(url);
    });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && errors.push(`worker: ${m.text()}`)));
    mkdirSync(OUTPUT, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });

  it('names the field of an invalid setting with the config schema, before training', async () => {
    await page.goto(`${site.origin}/?backend=cpu`, { waitUntil: 'load' });
    await page.waitForSelector('body[data-state=ready]');
    await page.fill('#density', '2');
    await page.click('#run');
    await page.waitForSelector('body[data-state=invalid]', { timeout: 30_000 });
    expect(await page.textContent('#errors')).toContain('mask_scorer.options.density');
  });

  it('trains ExSSNeT on the best backend the browser offers (auto), with the reason for each one skipped', async () => {
    await page.goto(`${site.origin}/`, { waitUntil: 'load' });
    await page.waitForSelector('body[data-state=ready]');
    await page.fill('#tasks', '2');
    await page.fill('#train-per-task', '256');
    await page.fill('#test-per-task', '200');
    await page.selectOption('#strategy', 'exssnet');
    await page.selectOption('#task-inference', 'oracle');
    await train(page, 60_000);
    const backend = await page.getAttribute('body', 'data-backend');
    expect(['webgpu', 'webgl', 'cpu']).toContain(backend);
    console.log(`auto picked the ${backend} backend: ${await page.getAttribute('body', 'data-notes')}`);
    expect((await matrixCells(page)).length).toBe(3);
    expect(await page.getAttribute('#forgetting', 'data-value')).toBe('0');
    expect(errors).toEqual([]);
  });

  it('trains 2 tasks with SupSup on LeNet on the cpu backend: both tasks above 90%, forgetting 0, the same matrix as the CLI on cpu-plain', async () => {
    await page.goto(`${site.origin}/?backend=cpu`, { waitUntil: 'load' });
    await page.waitForSelector('body[data-state=ready]');
    await page.fill('#name', 'web-test');
    await page.fill('#tasks', '2');
    await page.fill('#train-per-task', '1000');
    await page.fill('#test-per-task', '400');
    await page.selectOption('#strategy', 'supsup');
    await page.selectOption('#backbone', 'lenet');
    await page.fill('#density', '0.1');
    await page.fill('#epochs', '1');
    await page.selectOption('#task-inference', 'exhaustive');
    const config = JSON.parse((await page.textContent('#config'))!) as Record<string, unknown>;
    await train(page, 110_000);
    expect(await page.getAttribute('body', 'data-backend')).toBe('cpu');

    const cells = await matrixCells(page);
    expect(cells.map(([r, c]) => `${r},${c}`)).toEqual(['0,0', '1,0', '1,1']);
    for (const [, , v] of cells) expect(v).toBeGreaterThan(0.9);
    expect(await page.getAttribute('#forgetting', 'data-value')).toBe('0');
    // The report's figures are drawn, and task inference ran.
    expect(Number(await page.getAttribute('body', 'data-figures'))).toBeGreaterThanOrEqual(3);
    expect(await page.locator('#figures figure svg').count()).toBeGreaterThanOrEqual(3);
    expect(await page.textContent('#inference')).toContain('exhaustive');
    await page.screenshot({ path: join(OUTPUT, 'train-2-tasks.png'), fullPage: true });

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-results')]);
    const pageResults = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    expect(pageResults.backend).toBe('cpu');
    const [masks] = await Promise.all([page.waitForEvent('download'), page.click('#download-masks')]);
    expect(masks.suggestedFilename()).toBe('masks.safetensors');
    // One U8 0/1 mask per task and masked layer, in the layer's weight shape, keeping the density's share.
    const { tensors, metadata } = parseSafetensors(new Uint8Array(readFileSync((await masks.path())!)), 'masks.safetensors');
    expect(metadata.tasks).toBe('2');
    const layers = Object.keys(pageResults.densities);
    expect([...tensors.keys()].sort()).toEqual([1, 2].flatMap((t) => layers.map((l) => `task_${t}/${l}`)).sort());
    for (const [name, t] of tensors) {
      expect(t.dtype, name).toBe('U8');
      expect(t.shape.reduce((a, b) => a * b, 1), name).toBe(t.bytes.length);
      const ones = t.bytes.reduce((a, b) => a + b, 0);
      expect(Math.abs(ones / t.bytes.length - pageResults.densities[name.split('/')[1]!]), name).toBeLessThan(0.01);
    }

    // The same config and seed in the CLI on cpu-plain: the same accuracy matrix, value for value.
    const file = join(work, 'web-test.json');
    writeFileSync(file, JSON.stringify(config));
    const out = join(work, 'cli-run');
    const cli = spawnSync(process.execPath, [join(ROOT, 'packages/cli/dist/bin.js'), 'run', '--config', file, '--out', out, '--backend', 'cpu-plain'], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    expect(cli.status, cli.stderr).toBe(0);
    const cliResults = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(pageResults.accuracy_matrix).toEqual(cliResults.accuracy_matrix);
    expect(pageResults.task_inference.tasks).toEqual(cliResults.task_inference.tasks.map((t: Record<string, unknown>) => ({ ...t, seconds: expect.any(Number) })));
    expect(Object.keys(pageResults).sort()).toEqual(Object.keys(cliResults).sort());

    // The CLI's results.json dropped on the page shows its report.
    await page.setInputFiles('#results-file', join(out, 'results.json'));
    await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('Showing'));
    expect((await matrixCells(page)).map(([, , v]) => v)).toEqual(cliResults.accuracy_matrix.flat().filter((v: number | null) => v !== null));
    expect(await page.locator('#figures figure svg').count()).toBeGreaterThanOrEqual(3);

    expect(errors).toEqual([]);
    expect(outside).toEqual([]);
    expect(site.requests.some((p) => p.endsWith('train-images-idx3-ubyte.gz'))).toBe(true);
  });
});
