/**
 * The browser build's guard: a Vite (Rolldown) plugin that fails the build when a module imports
 * a Node built-in (`node:fs`, `fs`, `zlib`, ...), naming the module and the import. No module
 * reached from the browser entries may: Node-only code lives behind each package's Node entry.
 */
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILTINS = new Set(builtinModules.map((m) => m.replace(/^node:/, '')));

/** `node:fs` for `fs`, `node:fs`, `fs/promises` -> `node:fs/promises`; undefined when `id` is not a Node built-in. */
export function nodeBuiltin(id: string): string | undefined {
  const bare = id.replace(/^node:/, '');
  if (id.startsWith('node:') || BUILTINS.has(bare) || BUILTINS.has(bare.split('/')[0]!)) return `node:${bare}`;
  return undefined;
}

/**
 * True when the npm package holding `importer` maps `source` away for browsers in its package.json
 * `browser` field (e.g. seedrandom's `"crypto": false`): the bundler then never loads it.
 */
function mappedAwayForBrowsers(importer: string, source: string): boolean {
  for (let dir = dirname(importer); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const browser = (JSON.parse(readFileSync(file, 'utf8')) as { browser?: unknown }).browser;
    return typeof browser === 'object' && browser !== null && (browser as Record<string, unknown>)[source] === false;
  }
  return false;
}

/** The guard. */
export function nodeBuiltinGuard(): Plugin {
  return {
    name: 'supermask-node-builtin-guard',
    enforce: 'pre',
    resolveId(source, importer) {
      const builtin = nodeBuiltin(source);
      if (!builtin) return null;
      if (importer?.includes(`${sep}node_modules${sep}`) && mappedAwayForBrowsers(importer, source)) return null;
      const from = importer ? relative(REPO_ROOT, importer).split(sep).join('/') : '(entry)';
      this.error(
        `${from} imports the Node built-in "${source}", which a web page does not have: move that code behind the package's Node entry ` +
          `(keep the browser entry free of it)`,
      );
    },
  };
}
