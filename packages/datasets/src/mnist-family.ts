/**
 * MNIST-family datasets (Fashion-MNIST, MNIST): where their IDX files are looked up, and how they
 * are loaded into a `LabeledDataset`.
 */
import { join } from 'node:path';
import { DataError, type DatasetLoader, type LabeledDataset } from '@supermask/core';
import { EMBEDDED_FASHION_MNIST_DIR } from './embedded.js';
import { readIdx, type IdxArray } from './idx.js';
import { FASHION_MNIST_INFO, IDX_FILE_NAMES, idxDatasetFromArrays, type IdxDatasetOptions, type IdxDatasetSpec, type IdxFileRole, type IdxFileSet } from './idx-dataset.js';
import { DATA_ENV_VAR, isFile, locateDataFiles, type DataLookup } from './lookup.js';

// The lookup lives in lookup.ts (shared with CIFAR and TinyImageNet); re-exported here for the
// existing importers of this module.
export { DATA_ENV_VAR, dataSearchPlaces, type DataLookup, type SearchPlace } from './lookup.js';

/** Fashion-MNIST, with the embedded subset of this package. */
export const FASHION_MNIST: IdxDatasetSpec = { ...FASHION_MNIST_INFO, embeddedDir: EMBEDDED_FASHION_MNIST_DIR };

/**
 * The four IDX files in `dir` (each raw or `.gz`; raw preferred when both exist), or the base
 * names that are missing.
 */
export function findIdxFiles(dir: string): { files: IdxFileSet } | { missing: string[] } {
  const files: Partial<IdxFileSet> = {};
  const missing: string[] = [];
  for (const role of Object.keys(IDX_FILE_NAMES) as IdxFileRole[]) {
    const base = join(dir, IDX_FILE_NAMES[role]);
    const found = [base, `${base}.gz`].find((candidate) => isFile(candidate));
    if (found) files[role] = found;
    else missing.push(`${IDX_FILE_NAMES[role]}[.gz]`);
  }
  return missing.length > 0 ? { missing } : { files: files as IdxFileSet };
}

/**
 * Finds the first searched directory that holds all four IDX files of `spec`.
 * Throws `DataError` listing every place searched and how to get the data when none does.
 */
export function locateDataset(spec: IdxDatasetSpec, lookup: DataLookup = {}): { dir: string; files: IdxFileSet } {
  const names = Object.values(IDX_FILE_NAMES).join(', ');
  return locateDataFiles(spec, lookup, findIdxFiles, `Expected the four IDX files ${names} (raw or .gz) directly in one of these directories.`);
}

/** Reads the four IDX files and builds the dataset (pixels scaled to [0, 1]). */
export function loadIdxDataset(spec: IdxDatasetSpec, files: IdxFileSet, source: string): LabeledDataset {
  const arrays = Object.fromEntries((Object.keys(IDX_FILE_NAMES) as IdxFileRole[]).map((role) => [role, readIdx(files[role])])) as Record<IdxFileRole, IdxArray>;
  return idxDatasetFromArrays(spec, arrays, files, source);
}

export class IdxDatasetLoader implements DatasetLoader {
  constructor(
    readonly spec: IdxDatasetSpec,
    readonly options: IdxDatasetOptions,
    readonly lookup: DataLookup = {},
  ) {}

  async load(): Promise<LabeledDataset> {
    if (this.options.source === 'embedded') {
      const dir = this.spec.embeddedDir;
      if (!dir) {
        throw new DataError(`${this.spec.title} has no embedded copy; use source "full" (its files are searched in --data-dir, $${DATA_ENV_VAR}, ${this.spec.defaultDir})`);
      }
      const found = findIdxFiles(dir);
      if ('missing' in found) {
        throw new DataError(
          `${dir}: the embedded ${this.spec.title} subset is incomplete (missing ${found.missing.join(', ')}); reinstall @supermask/datasets`,
          dir,
        );
      }
      return loadIdxDataset(this.spec, found.files, 'embedded');
    }
    const { dir, files } = locateDataset(this.spec, this.lookup);
    return loadIdxDataset(this.spec, files, dir);
  }
}
