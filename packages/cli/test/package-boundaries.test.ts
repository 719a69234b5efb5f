import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Module specifiers of `import ... from`, `export ... from`, bare `import '...'` and `import('...')`. */
export function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [/\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) found.push(m[1]!);
  return found;
}

/** The subpaths a workspace package declares in its package.json `exports` (`.`, `./browser`, ...). */
function exportedSubpaths(name: string): string[] {
  const file = join(root, 'packages', name, 'package.json');
  if (!existsSync(file)) return ['.'];
  const exported = (JSON.parse(readFileSync(file, 'utf8')) as { exports?: Record<string, unknown> | string }).exports;
  return exported && typeof exported === 'object' ? Object.keys(exported) : ['.'];
}

/**
 * What is wrong with importing `spec` from `file` of the package rooted at `packageDir`: a
 * `@supermask/` subpath the package does not export (`@supermask/core/src/x`,
 * `@supermask/core/dist/x`; a declared entry such as `@supermask/core/browser` is public) or a
 * relative path that leaves the package. Undefined when the import is fine.
 */
export function boundaryViolation(spec: string, file: string, packageDir: string, exportsOf: (name: string) => string[] = exportedSubpaths): string | undefined {
  const scoped = /^@supermask\/([^/]+)\/(.+)$/.exec(spec);
  if (scoped && !exportsOf(scoped[1]!).includes(`./${scoped[2]}`)) return `imports ${spec}: another package's internals (use its public entry)`;
  if (spec.startsWith('.')) {
    const target = resolve(dirname(file), spec);
    if (target !== packageDir && !target.startsWith(packageDir + sep)) return `imports ${spec}: a path outside its package (${relative(root, target)})`;
  }
  return undefined;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

describe('package boundaries', () => {
  it('recognises an import of internals and one that leaves the package', () => {
    const pkg = join(root, 'packages', 'strategy-wsn');
    const file = join(pkg, 'src', 'index.ts');
    const source = [
      "import { a } from '@supermask/core';",
      "import { b } from '@supermask/core/src/phase-kind.js';",
      "export { c } from '../../core/dist/index.js';",
      "import './wsn.js';",
      "import { e } from '@supermask/core/browser';",
      "const d = await import('@supermask/kkt/dist/knn.js');",
    ].join('\n');
    const exportsOf = (name: string) => (name === 'core' ? ['.', './browser'] : ['.']);
    const problems = specifiers(source).map((s) => boundaryViolation(s, file, pkg, exportsOf)).filter(Boolean).sort();
    expect(problems).toEqual([
      'imports ../../core/dist/index.js: a path outside its package (packages/core/dist/index.js)',
      "imports @supermask/core/src/phase-kind.js: another package's internals (use its public entry)",
      "imports @supermask/kkt/dist/knn.js: another package's internals (use its public entry)",
    ]);
  });

  it("no package or example imports another package's src/ or dist/ internals", () => {
    const packageDirs = ['packages', 'examples'].flatMap((top) => readdirSync(join(root, top)).map((name) => join(root, top, name)).filter((d) => existsSync(join(d, 'package.json'))));
    let files = 0;
    const problems: string[] = [];
    for (const dir of packageDirs) {
      for (const file of sourceFiles(join(dir, 'src'))) {
        files++;
        for (const spec of specifiers(readFileSync(file, 'utf8'))) {
          const problem = boundaryViolation(spec, file, dir);
          if (problem) problems.push(`${relative(root, file)}: ${problem}`);
        }
      }
    }
    expect(files).toBeGreaterThan(50);
    expect(problems).toEqual([]);
  });
});
