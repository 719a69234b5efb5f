/**
 * MNIST-family datasets (Fashion-MNIST, MNIST): where their IDX files are looked up, and how they
 * are loaded into a `LabeledDataset`.
 */
import { join } from 'node:path';
import { DataError, type DatasetLoader, type LabeledDataset, type Split } from '@supermask/core';
import { EMBEDDED_FASHION_MNIST_DIR } from './embedded.js';
import { readIdx, type IdxArray } from './idx.js';
import { DATA_ENV_VAR, isFile, locateDataFiles, type DataLocation, type DataLookup } from './lookup.js';

// The lookup lives in lookup.ts (shared with CIFAR and TinyImageNet); re-exported here for the
// existing importers of this module.
export { DATA_ENV_VAR, dataSearchPlaces, type DataLookup, type SearchPlace } from './lookup.js';

/** Base names of the four IDX files; each may also be present gzipped (`<name>.gz`). */
export const IDX_FILE_NAMES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

export type IdxFileRole = keyof typeof IDX_FILE_NAMES;

/** Paths of the four IDX files of a dataset. */
export type IdxFileSet = Record<IdxFileRole, string>;

/** What distinguishes one MNIST-family dataset from another. */
export interface IdxDatasetSpec extends DataLocation {
  /** Component id and `LabeledDataset.name`, e.g. "fashion-mnist". */
  id: string;
  /** Human name used in messages, e.g. "Fashion-MNIST". */
  title: string;
  /** Sub-folder accepted inside each searched directory, e.g. "fashion-mnist". */
  subdir: string;
  /** Last place searched (where the Debian package installs the files). */
  defaultDir: string;
  classNames: string[];
  normalization: { mean: number[]; std: number[] };
  /** Lines telling a user how to get the files (shown when none are found). */
  howToGet: string[];
  /** Folder of the embedded subset, if the dataset has one. */
  embeddedDir?: string;
}

export const FASHION_MNIST: IdxDatasetSpec = {
  id: 'fashion-mnist',
  title: 'Fashion-MNIST',
  subdir: 'fashion-mnist',
  defaultDir: '/usr/share/datasets/fashion-mnist',
  classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
  normalization: { mean: [0.286], std: [0.353] },
  howToGet: [
    'on Debian/Ubuntu: `apt-get install dataset-fashion-mnist` (installs them into /usr/share/datasets/fashion-mnist, searched by default)',
    'or download the four IDX files (.gz) from the upstream Fashion-MNIST repository, https://github.com/zalandoresearch/fashion-mnist (folder data/fashion), into a directory DIR and pass `--data-dir DIR` or set SUPERMASK_DATA=DIR',
  ],
  embeddedDir: EMBEDDED_FASHION_MNIST_DIR,
};

export const MNIST: IdxDatasetSpec = {
  id: 'mnist',
  title: 'MNIST',
  subdir: 'mnist',
  defaultDir: '/usr/share/datasets/mnist',
  classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  normalization: { mean: [0.1307], std: [0.3081] },
  howToGet: [
    'download the four IDX files (.gz) of the MNIST database (http://yann.lecun.com/exdb/mnist/ or one of its mirrors) into a directory DIR and pass `--data-dir DIR` or set SUPERMASK_DATA=DIR',
    'or put them into /usr/share/datasets/mnist (searched by default)',
  ],
};

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
  const numClasses = spec.classNames.length;
  const train = readSplit(files.trainImages, files.trainLabels, numClasses);
  const test = readSplit(files.testImages, files.testLabels, numClasses);
  if (train.shape.join('x') !== test.shape.join('x')) {
    throw new DataError(
      `${files.testImages}: test images are ${test.shape.join('x')}, but the training images (${files.trainImages}) are ${train.shape.join('x')}; expected the same shape`,
      files.testImages,
    );
  }
  return {
    name: spec.id,
    inputShape: train.shape,
    numClasses,
    classNames: [...spec.classNames],
    train: train.split,
    test: test.split,
    normalization: { mean: [...spec.normalization.mean], std: [...spec.normalization.std] },
    source,
  };
}

function readSplit(imagesFile: string, labelsFile: string, numClasses: number): { split: Split; shape: number[] } {
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  requireUnsignedBytes(images, imagesFile);
  requireUnsignedBytes(labels, labelsFile);
  if (images.dims.length !== 3 && images.dims.length !== 4) {
    throw new DataError(
      `${imagesFile}: expected images of dimensions N x rows x cols (or N x rows x cols x channels), found ${images.dims.join('x')}`,
      imagesFile,
    );
  }
  if (labels.dims.length !== 1) {
    throw new DataError(`${labelsFile}: expected a 1-dimensional label file, found dimensions ${labels.dims.join('x')}`, labelsFile);
  }
  const n = images.dims[0];
  if (labels.dims[0] !== n) {
    throw new DataError(
      `${labelsFile}: holds ${labels.dims[0]} labels, but ${imagesFile} holds ${n} images; expected one label per image`,
      labelsFile,
    );
  }
  const shape = images.dims.length === 3 ? [images.dims[1], images.dims[2], 1] : images.dims.slice(1);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = labels.data[i];
    if (label >= numClasses) {
      throw new DataError(`${labelsFile}: label ${label} at index ${i}; expected labels 0..${numClasses - 1}`, labelsFile);
    }
    y[i] = label;
  }
  const x = new Float32Array(images.data.length);
  const pixels = images.data;
  for (let i = 0; i < pixels.length; i++) x[i] = pixels[i] / 255;
  return { split: { x, y, n }, shape };
}

function requireUnsignedBytes(array: IdxArray, file: string): void {
  if (array.type !== 0x08) {
    throw new DataError(`${file}: expected IDX type 0x08 (unsigned byte), found type 0x${array.type.toString(16).padStart(2, '0')}`, file);
  }
}

/** Options of the `fashion-mnist` and `mnist` dataset components. */
export interface IdxDatasetOptions {
  /** "embedded": the subset shipped in this package; "full": the files found by the data lookup. */
  source: 'embedded' | 'full';
}

/** Loads an MNIST-family dataset, embedded or from the data lookup. */
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
