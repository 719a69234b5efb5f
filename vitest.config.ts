import { fileURLToPath } from 'node:url';
import { readdirSync, existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Tests import workspace packages from their TypeScript sources, so they never run stale builds.
const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));
// Browser entries (`@supermask/x/browser`, src/browser.ts) come first: an alias also matches the names below it.
const names = readdirSync(packagesDir).filter((name) => existsSync(`${packagesDir}${name}/src/index.ts`));
const alias = [
  ...names.filter((name) => existsSync(`${packagesDir}${name}/src/browser.ts`)).map((name) => ({ find: `@supermask/${name}/browser`, replacement: `${packagesDir}${name}/src/browser.ts` })),
  ...names.map((name) => ({ find: `@supermask/${name}`, replacement: `${packagesDir}${name}/src/index.ts` })),
];

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['./vitest.global-setup.ts'],
  },
});
