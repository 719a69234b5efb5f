import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { exportModel, fileModelLoader } from '@supermask/export';
import { LENET, RESNET, trainRun } from './runs.js';

/** Debian's Chromium (`apt-get install chromium`); SUPERMASK_CHROMIUM overrides the path. */
const CHROMIUM = process.env.SUPERMASK_CHROMIUM ?? '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
const required = process.env.CI === 'true';
if (!present && !required) console.warn(`skipping the exported-model browser test: no Chromium at ${CHROMIUM} (CI installs it and runs this test)`);

/** TensorFlow.js's browser bundles (core, the cpu backend, layers; each adds to the global `tf`), from the installed packages (nothing fetched). */
const require = createRequire(import.meta.url);
const TFJS_BUNDLES = [
  ['@tensorflow/tfjs-core', 'tf-core.min.js'],
  ['@tensorflow/tfjs-backend-cpu', 'tf-backend-cpu.min.js'],
  ['@tensorflow/tfjs-layers', 'tf-layers.min.js'],
].map(([name, file]) => join(require.resolve(name!).replace(/dist\/.*$/, 'dist'), file!));
const ORIGIN = 'http://models.test';

describe('an exported TensorFlow.js model in a browser', () => {
  it.skipIf(!present && !required)('loads with tf.loadLayersModel over HTTP and gives the logits Node gives', async () => {
    if (!present) throw new Error(`CI=true but Chromium is not installed at ${CHROMIUM}`);
    const models = [];
    for (const [name, config, task] of [['lenet', LENET, 0], ['resnet', RESNET, 1]] as const) {
      const r = await trainRun(`browser-${name}`, config, task);
      const out = join(r.dir, 'tfjs');
      await exportModel(r.run, task, out, r.registry, 'tfjs');
      const n = 8;
      const inputShape = r.shape.slice(1);
      const size = inputShape.reduce((a, b) => a * b, 1);
      const x = Array.from(r.test.x.subarray(0, n * size));
      const model = await tfl.loadLayersModel(fileModelLoader(join(out, 'model.json')));
      const expected = tf.tidy(() => Array.from((model.predict(tf.tensor(x, [n, ...inputShape])) as tf.Tensor).dataSync()));
      model.dispose();
      models.push({ name, out, n, inputShape, x, expected });
    }

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      // The model files are served from disk under a made-up origin; any other request fails.
      await page.route('**/*', async (route) => {
        const url = new URL(route.request().url());
        const [, name, file] = url.pathname.split('/');
        const m = models.find((x) => x.name === name);
        if (url.origin === ORIGIN && m && file && existsSync(join(m.out, file))) {
          await route.fulfill({ status: 200, body: readFileSync(join(m.out, file)), contentType: file.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
        } else if (url.origin === ORIGIN && url.pathname === '/') {
          await route.fulfill({ status: 200, body: '<!doctype html><title>models</title>', contentType: 'text/html' });
        } else await route.abort();
      });
      await page.goto(`${ORIGIN}/`);
      for (const path of TFJS_BUNDLES) await page.addScriptTag({ path });
      for (const m of models) {
        const logits = await page.evaluate(
          async ({ url, x, shape }) => {
            const tfb = (globalThis as unknown as { tf: typeof tf & typeof tfl }).tf;
            await tfb.setBackend('cpu');
            const model = await tfb.loadLayersModel(url);
            const y = model.predict(tfb.tensor(x, shape)) as tf.Tensor;
            return Array.from(await y.data());
          },
          { url: `${ORIGIN}/${m.name}/model.json`, x: m.x, shape: [m.n, ...m.inputShape] },
        );
        expect(logits.length, m.name).toBe(m.expected.length);
        for (let i = 0; i < logits.length; i++) expect(Math.abs(logits[i]! - m.expected[i]!), `${m.name}[${i}]`).toBeLessThan(1e-4);
      }
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
