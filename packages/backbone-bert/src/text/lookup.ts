/**
 * Where text corpora are looked up: `--data-dir`, `$SUPERMASK_DATA`, then a default directory,
 * each searched for the corpus's folder. A corpus found nowhere is a `DataError` listing every
 * place searched and how to get the data.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataError } from '@supermask/core';

export const DATA_ENV_VAR = 'SUPERMASK_DATA';

export interface TextDataLookup {
  dataDir?: string;
  env?: Record<string, string | undefined>;
}

/** The roots searched, in order. */
export function dataRoots(lookup: TextDataLookup, defaults: readonly string[] = []): { dir: string; origin: string }[] {
  const env = lookup.env ?? process.env;
  const roots: { dir: string; origin: string }[] = [];
  if (lookup.dataDir) roots.push({ dir: resolve(lookup.dataDir), origin: '--data-dir' });
  if (env[DATA_ENV_VAR]) roots.push({ dir: resolve(env[DATA_ENV_VAR]!), origin: DATA_ENV_VAR });
  for (const d of defaults) roots.push({ dir: resolve(d), origin: 'default' });
  return roots;
}

/**
 * The first directory among `<root>/<name>` (for each name in `names`) and `<root>` itself that
 * holds every file of `files`.
 */
export function findCorpusDir(title: string, names: readonly string[], files: readonly string[], lookup: TextDataLookup, howToGet: readonly string[], defaults: readonly string[] = []): string {
  const places: string[] = [];
  for (const root of dataRoots(lookup, defaults)) {
    for (const name of names) places.push(join(root.dir, name));
    places.push(root.dir);
  }
  for (const p of places) {
    if (existsSync(p) && statSync(p).isDirectory() && files.every((f) => existsSync(join(p, f)))) return p;
  }
  const lines = [
    `${title} not found: no directory holding ${files.join(', ')} among`,
    ...(places.length > 0 ? places.map((p) => `  ${p}`) : ['  (nothing to search: pass --data-dir DIR or set SUPERMASK_DATA)']),
    'To get it:',
    ...howToGet.map((l) => `  ${l}`),
  ];
  throw new DataError(lines.join('\n'), places[0]);
}
