/**
 * The MNIST-family datasets without file access: their specs, the schema of their options and
 * the dataset built from decoded IDX arrays. Shared by the file loader (mnist-family.ts) and the
 * browser entry.
 */
import { DataError, type JsonSchema, type LabeledDataset, type Split } from '@supermask/core';
import type { IdxArray } from './idx-decode.js';
import type { DataLocation } from './lookup.js';

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

export const FASHION_MNIST_INFO: IdxDatasetSpec = {
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

/** Schema of an IDX dataset's options; `embedded` says whether the dataset has an embedded subset. */
function sourceSchema(spec: IdxDatasetSpec, embedded: boolean): JsonSchema {
  const sources = embedded ? ['embedded', 'full'] : ['full'];
  return {
    type: 'object',
    properties: {
      source: {
        enum: sources,
        default: sources[0],
        description: embedded
          ? `"embedded": the ${spec.title} subset shipped in this package (1,000 train / 200 test images per class); "full": the four IDX files found in --data-dir, $SUPERMASK_DATA or ${spec.defaultDir}`
          : `"full": the four IDX files found in --data-dir, $SUPERMASK_DATA or ${spec.defaultDir} (${spec.title} has no embedded copy)`,
      },
    },
    additionalProperties: false,
  };
}

/** Description of the `fashion-mnist` dataset component (Node and browser). */
export const FASHION_MNIST_DESCRIPTION =
  'Fashion-MNIST (28x28 grey, 10 clothing classes): embedded 10,000/2,000 subset by default, or the full 60,000/10,000 IDX files';

export const FASHION_MNIST_SCHEMA: JsonSchema = sourceSchema(FASHION_MNIST_INFO, true);
export const MNIST_SCHEMA: JsonSchema = sourceSchema(MNIST, false);

/**
 * Builds the dataset from the four decoded IDX arrays (pixels scaled to [0, 1]); `files` names
 * them in error messages.
 */
export function idxDatasetFromArrays(spec: IdxDatasetSpec, arrays: Record<IdxFileRole, IdxArray>, files: IdxFileSet, source: string): LabeledDataset {
  const numClasses = spec.classNames.length;
  const train = splitFromArrays(arrays.trainImages, arrays.trainLabels, files.trainImages, files.trainLabels, numClasses);
  const test = splitFromArrays(arrays.testImages, arrays.testLabels, files.testImages, files.testLabels, numClasses);
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

function splitFromArrays(images: IdxArray, labels: IdxArray, imagesFile: string, labelsFile: string, numClasses: number): { split: Split; shape: number[] } {
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
