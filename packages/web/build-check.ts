/**
 * The browser build's guard: a Vite (Rolldown) plugin that fails the build when a module imports
 * a Node built-in (`node:fs`, `fs`, `zlib`, ...), except the imports listed in node-imports.json,
 * which it replaces with browser stubs. An entry of that list that the build never meets fails it
 * too, so the list only shrinks.
 */
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHIMS_DIR = fileURLToPath(new URL('./src/node-shims/', import.meta.url));
const BUILTINS = new Set(builtinModules.map((m) => m.replace(/^node:/, '')));

export interface NodeImportList {
  /** Repository-relative importer path -> the built-ins it may import (as `node:name`). */
  imports: Record<string, string[]>;
}

export function readNodeImportList(): NodeImportList {
  return JSON.parse(readFileSync(new URL('./node-imports.json', import.meta.url), 'utf8')) as NodeImportList;
}

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

const SHIMS: Record<string, string> = { 'node:fs': `${SHIMS_DIR}fs.ts`, 'node:path': 'pathe' };

/**
 * The guard. `allowed` is the list of tolerated imports (default: node-imports.json; pass
 * `{ imports: {} }` for a strict build that tolerates none).
 */
export function nodeBuiltinGuard(allowed: NodeImportList = readNodeImportList()): Plugin {
  const seen = new Set<string>();
  let isBuild = true;
  return {
    name: 'supermask-node-builtin-guard',
    enforce: 'pre',
    configResolved(config) {
      isBuild = config.command === 'build';
    },
    buildStart() {
      seen.clear();
    },
    async resolveId(source, importer) {
      const builtin = nodeBuiltin(source);
      if (!builtin) return null;
      if (importer?.includes(`${sep}node_modules${sep}`) && mappedAwayForBrowsers(importer, source)) return null;
      const from = importer ? relative(REPO_ROOT, importer).split(sep).join('/') : '(entry)';
      if (allowed.imports[from]?.includes(builtin) && SHIMS[builtin]) {
        seen.add(`${from} ${builtin}`);
        return this.resolve(SHIMS[builtin]!, importer, { skipSelf: true });
      }
      this.error(
        `${from} imports the Node built-in "${source}", which a web page does not have: move that code behind the package's Node entry ` +
          `(keep the browser entry free of it), or, while it is being moved, list it in packages/web/node-imports.json`,
      );
    },
    buildEnd(error) {
      // The dev server resolves modules as the page asks for them: only a build meets them all.
      if (error || !isBuild) return;
      const stale = Object.entries(allowed.imports).flatMap(([from, list]) => list.filter((b) => !seen.has(`${from} ${b}`)).map((b) => `${from} ${b}`));
      if (stale.length > 0) this.error(`packages/web/node-imports.json lists imports the browser build no longer meets (delete them): ${stale.join(', ')}`);
    },
  };
}
