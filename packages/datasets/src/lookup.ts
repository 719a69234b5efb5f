/**
 * Where dataset files are looked up (`--data-dir`, `$SUPERMASK_DATA`, a default directory, each
 * with the dataset's usual sub-folder), and the file helpers every reader shares. A missing
 * dataset gives a `DataError` listing every place searched and how to get the data.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataError } from '@supermask/core';

/** Environment variable naming a directory of dataset files. */
export const DATA_ENV_VAR = 'SUPERMASK_DATA';

/** Where full data is searched: the run's data dir, the environment, the default directory. */
export interface DataLookup {
  /** `--data-dir` of the run (RunOptions.dataDir). */
  dataDir?: string;
  /** Environment consulted for SUPERMASK_DATA (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Overrides the dataset's default directory (tests). */
  defaultDir?: string;
}

/** One directory searched for the files, and why it was searched. */
export interface SearchPlace {
  dir: string;
  /** "--data-dir", "SUPERMASK_DATA" or "default". */
  origin: string;
}

/** What the lookup needs to know about a dataset. */
export interface DataLocation {
  /** Human name used in messages, e.g. "CIFAR-10". */
  title: string;
  /** Sub-folder accepted inside each searched directory, e.g. "cifar-10-batches-bin". */
  subdir: string;
  /** Last place searched. */
  defaultDir: string;
  /** Lines telling a user how to get the files (shown when none are found). */
  howToGet: string[];
}

/** What a probe found in one directory: the dataset's files, or the names that are missing. */
export type ProbeResult<T> = { files: T } | { missing: string[] };

/**
 * The directories searched for a dataset's files, in order: `--data-dir`, then `$SUPERMASK_DATA`,
 * then the default directory; in each, the directory itself and then its `<subdir>` sub-folder.
 */
export function dataSearchPlaces(spec: DataLocation, lookup: DataLookup = {}): SearchPlace[] {
  const env = lookup.env ?? process.env;
  const roots: SearchPlace[] = [];
  if (lookup.dataDir) roots.push({ dir: resolve(lookup.dataDir), origin: '--data-dir' });
  const fromEnv = env[DATA_ENV_VAR];
  if (fromEnv) roots.push({ dir: resolve(fromEnv), origin: DATA_ENV_VAR });
  roots.push({ dir: resolve(lookup.defaultDir ?? spec.defaultDir), origin: 'default' });
  return roots.flatMap((root) => [root, { dir: join(root.dir, spec.subdir), origin: root.origin }]);
}

/**
 * Finds the first searched directory where `probe` finds the dataset's files. Throws `DataError`
 * listing every place searched (and what each lacks), `expected` (one line: which files are
 * expected) and how to get the data when none has them.
 */
export function locateDataFiles<T>(
  spec: DataLocation,
  lookup: DataLookup,
  probe: (dir: string) => ProbeResult<T>,
  expected: string,
): { dir: string; files: T } {
  const report: string[] = [];
  for (const place of dataSearchPlaces(spec, lookup)) {
    if (!isDirectory(place.dir)) {
      report.push(`${place.dir} (${place.origin}): ${existsSync(place.dir) ? 'not a directory' : 'does not exist'}`);
      continue;
    }
    const found = probe(place.dir);
    if ('files' in found) return { dir: place.dir, files: found.files };
    report.push(`${place.dir} (${place.origin}): missing ${found.missing.join(', ')}`);
  }
  const env = lookup.env ?? process.env;
  const unset: string[] = [];
  if (!lookup.dataDir) unset.push('--data-dir was not given');
  if (!env[DATA_ENV_VAR]) unset.push(`${DATA_ENV_VAR} is not set`);
  throw new DataError(
    [
      `${spec.title} data not found. Searched, in order:`,
      ...report.map((line) => `  - ${line}`),
      ...(unset.length > 0 ? [`  (${unset.join('; ')})`] : []),
      expected,
      'To get them:',
      ...spec.howToGet.map((line) => `  - ${line}`),
    ].join('\n'),
  );
}

/** True when `path` is a regular file (following links). */
export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** True when `path` is a directory (following links). */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Reads a whole file; a `DataError` naming it and `what` it should be when it cannot be read. */
export function readDataFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new DataError(`${file}: cannot read ${what} (${reason})`, file);
  }
}

/**
 * The non-empty lines of a text file, trimmed (class-name lists such as `batches.meta.txt`).
 * With `count`, a `DataError` naming the file unless it lists exactly that many.
 */
export function readNameList(file: string, what: string, count?: number): string[] {
  const names = readDataFile(file, what)
    .toString('utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (count !== undefined && names.length !== count) {
    throw new DataError(`${file}: lists ${names.length} ${what}, expected ${count} (one per line)`, file);
  }
  return names;
}
