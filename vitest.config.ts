import { fileURLToPath } from 'node:url';
import { readdirSync, existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Tests import workspace packages from their TypeScript sources, so they never run stale builds.
const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));
const alias = Object.fromEntries(
  readdirSync(packagesDir)
    .filter((name) => existsSync(`${packagesDir}${name}/src/index.ts`))
    .map((name) => [`@supermask/${name}`, `${packagesDir}${name}/src/index.ts`]),
);

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
