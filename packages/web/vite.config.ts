import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { nodeBuiltinGuard, REPO_ROOT } from './build-check.js';

const PACKAGES = join(REPO_ROOT, 'packages');
const EMBEDDED = join(PACKAGES, 'datasets/data/fashion-mnist-subset');
const DATA_PATH = 'data/fashion-mnist-subset';

/**
 * Workspace packages resolve to their TypeScript sources: to `src/browser.ts` where a package has
 * a browser entry (core, datasets, report; its Node entry name resolves there too, so a package
 * that imports `@supermask/core` gets core's browser entry), else to `src/index.ts`.
 */
export function workspaceAliases(): { find: RegExp; replacement: string }[] {
  return readdirSync(PACKAGES)
    .filter((name) => existsSync(join(PACKAGES, name, 'src/index.ts')))
    .map((name) => {
      const browser = join(PACKAGES, name, 'src/browser.ts');
      return { find: new RegExp(`^@supermask/${name}(/browser)?$`), replacement: existsSync(browser) ? browser : join(PACKAGES, name, 'src/index.ts') };
    });
}

/** Serves (dev) and copies (build) the embedded Fashion-MNIST subset to `data/fashion-mnist-subset/`, same origin. */
function embeddedData(): Plugin {
  const files = readdirSync(EMBEDDED).filter((f) => f.endsWith('.gz') || f === 'COPYRIGHT' || f === 'README.md');
  return {
    name: 'supermask-embedded-data',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const match = req.url?.match(new RegExp(`/${DATA_PATH}/([^/?]+)`));
        if (!match || !files.includes(match[1]!)) return next();
        res.setHeader('Content-Type', 'application/octet-stream');
        res.end(readFileSync(join(EMBEDDED, match[1]!)));
      });
    },
    generateBundle() {
      for (const f of files) this.emitFile({ type: 'asset', fileName: `${DATA_PATH}/${f}`, source: readFileSync(join(EMBEDDED, f)) });
    },
  };
}

const coreVersion = (JSON.parse(readFileSync(join(PACKAGES, 'core/package.json'), 'utf8')) as { version: string }).version;

export default defineConfig({
  root: new URL('.', import.meta.url).pathname,
  // Relative asset paths: the built folder can be hosted under any path.
  base: './',
  resolve: { alias: [...workspaceAliases(), { find: /^.*\/vendor\/tfjs-registrations\.mjs$/, replacement: fileURLToPath(new URL('./src/tfjs.ts', import.meta.url)) }] },
  define: { __SUPERMASK_CORE_VERSION__: JSON.stringify(coreVersion) },
  plugins: [nodeBuiltinGuard(), embeddedData()],
  worker: { format: 'es', plugins: () => [nodeBuiltinGuard()] },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4096 },
  server: { host: '127.0.0.1' },
});
