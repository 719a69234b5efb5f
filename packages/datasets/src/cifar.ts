/**
 * CIFAR-10 and CIFAR-100 in their binary distribution (the "binary version" archives of
 * https://www.cs.toronto.edu/~kriz/cifar.html).
 *
 * A batch file is a sequence of fixed-size records: the label byte(s) (CIFAR-10: the class;
 * CIFAR-100: the coarse class, then the fine class), then 3072 pixel bytes: the 1024 red values,
 * the 1024 green values and the 1024 blue values of the 32x32 image, each plane row-major.
 * Images become HWC floats in [0, 1] of shape [32, 32, 3].
 */
import { join } from 'node:path';
import { ConfigError, DataError, type DatasetLoader, type LabeledDataset, type Split } from '@supermask/core';
import { isFile, locateDataFiles, readDataFile, readNameList, type DataLocation, type DataLookup, type ProbeResult } from './lookup.js';

/** Shape of one CIFAR image (HWC). */
export const CIFAR_IMAGE_SHAPE: readonly [number, number, number] = [32, 32, 3];

/** Pixel bytes of one record: three 32x32 planes (R, G, B). */
export const CIFAR_PIXEL_BYTES = 3072;

const PLANE = 1024;

/** One kind of label a CIFAR record carries. */
export interface CifarLabelSpec {
  /** Index of this label's byte within the record's label bytes. */
  byte: number;
  numClasses: number;
  /** File of the class names (one per line) in the dataset folder; used when present. */
  namesFile: string;
  /** Class names used when `namesFile` is absent (the upstream names, in label order). */
  defaultNames: string[];
}

/** What distinguishes CIFAR-10 from CIFAR-100. */
export interface CifarDatasetSpec extends DataLocation {
  /** Component id and `LabeledDataset.name`. */
  id: string;
  /** Batch files of the training split, in the order they are concatenated. */
  trainFiles: string[];
  /** Batch files of the test split. */
  testFiles: string[];
  /** Label bytes at the start of each record (1 for CIFAR-10, 2 for CIFAR-100). */
  labelBytes: number;
  /** The labels a record carries, by option value ("label" for CIFAR-10; "coarse", "fine"). */
  labels: Record<string, CifarLabelSpec>;
  /** The label used when the options name none. */
  defaultLabel: string;
  normalization: { mean: number[]; std: number[] };
}

const CIFAR10_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

const CIFAR100_COARSE_NAMES = [
  'aquatic_mammals', 'fish', 'flowers', 'food_containers', 'fruit_and_vegetables', 'household_electrical_devices',
  'household_furniture', 'insects', 'large_carnivores', 'large_man-made_outdoor_things', 'large_natural_outdoor_scenes',
  'large_omnivores_and_herbivores', 'medium_mammals', 'non-insect_invertebrates', 'people', 'reptiles', 'small_mammals',
  'trees', 'vehicles_1', 'vehicles_2',
];

const CIFAR100_FINE_NAMES = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle',
  'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle',
  'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard',
  'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain',
  'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket',
  'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone', 'television', 'tiger', 'tractor',
  'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman', 'worm',
];

const CIFAR_PAGE = 'https://www.cs.toronto.edu/~kriz/cifar.html';

export const CIFAR10: CifarDatasetSpec = {
  id: 'cifar10',
  title: 'CIFAR-10',
  subdir: 'cifar-10-batches-bin',
  defaultDir: '/usr/share/datasets/cifar10',
  trainFiles: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
  testFiles: ['test_batch.bin'],
  labelBytes: 1,
  labels: { label: { byte: 0, numClasses: 10, namesFile: 'batches.meta.txt', defaultNames: CIFAR10_NAMES } },
  defaultLabel: 'label',
  normalization: { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] },
  howToGet: [
    `download "CIFAR-10 binary version (suitable for C programs)", cifar-10-binary.tar.gz, from ${CIFAR_PAGE}`,
    'extract it into a directory DIR (`tar xzf cifar-10-binary.tar.gz -C DIR`, which creates DIR/cifar-10-batches-bin) and pass `--data-dir DIR` or set SUPERMASK_DATA=DIR',
    'or extract it into /usr/share/datasets/cifar10 (searched by default)',
  ],
};

export const CIFAR100: CifarDatasetSpec = {
  id: 'cifar100',
  title: 'CIFAR-100',
  subdir: 'cifar-100-binary',
  defaultDir: '/usr/share/datasets/cifar100',
  trainFiles: ['train.bin'],
  testFiles: ['test.bin'],
  labelBytes: 2,
  labels: {
    coarse: { byte: 0, numClasses: 20, namesFile: 'coarse_label_names.txt', defaultNames: CIFAR100_COARSE_NAMES },
    fine: { byte: 1, numClasses: 100, namesFile: 'fine_label_names.txt', defaultNames: CIFAR100_FINE_NAMES },
  },
  defaultLabel: 'fine',
  normalization: { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] },
  howToGet: [
    `download "CIFAR-100 binary version (suitable for C programs)", cifar-100-binary.tar.gz, from ${CIFAR_PAGE}`,
    'extract it into a directory DIR (`tar xzf cifar-100-binary.tar.gz -C DIR`, which creates DIR/cifar-100-binary) and pass `--data-dir DIR` or set SUPERMASK_DATA=DIR',
    'or extract it into /usr/share/datasets/cifar100 (searched by default)',
  ],
};

/** Bytes of one record of `spec`: the label bytes and the 3072 pixel bytes. */
export function cifarRecordBytes(spec: CifarDatasetSpec): number {
  return spec.labelBytes + CIFAR_PIXEL_BYTES;
}

/** Paths of a CIFAR dataset's files found in one directory. */
export interface CifarFileSet {
  train: string[];
  test: string[];
  /** The class-name files present, by label kind (absent ones are not listed). */
  names: Record<string, string>;
}

/** The batch files of `spec` in `dir` (all needed), and the class-name files present there. */
export function findCifarFiles(spec: CifarDatasetSpec, dir: string): ProbeResult<CifarFileSet> {
  const missing = [...spec.trainFiles, ...spec.testFiles].filter((name) => !isFile(join(dir, name)));
  if (missing.length > 0) return { missing };
  const names: Record<string, string> = {};
  for (const [kind, label] of Object.entries(spec.labels)) {
    const file = join(dir, label.namesFile);
    if (isFile(file)) names[kind] = file;
  }
  return {
    files: {
      train: spec.trainFiles.map((name) => join(dir, name)),
      test: spec.testFiles.map((name) => join(dir, name)),
      names,
    },
  };
}

/**
 * Finds the first searched directory holding every batch file of `spec`. Throws `DataError`
 * listing every place searched and how to get the data when none does.
 */
export function locateCifar(spec: CifarDatasetSpec, lookup: DataLookup = {}): { dir: string; files: CifarFileSet } {
  return locateDataFiles(
    spec,
    lookup,
    (dir) => findCifarFiles(spec, dir),
    `Expected the ${spec.title} binary batch files ${[...spec.trainFiles, ...spec.testFiles].join(', ')} directly in one of these directories.`,
  );
}

function labelSpecOf(spec: CifarDatasetSpec, label: string | undefined): CifarLabelSpec {
  const kind = label ?? spec.defaultLabel;
  const found = spec.labels[kind];
  if (!found) {
    throw new ConfigError(`invalid label of ${spec.id}`, [
      `dataset.options.label: "${kind}" is not a label of ${spec.title}; expected one of ${Object.keys(spec.labels).join(', ')}`,
    ]);
  }
  return found;
}

/** Number of records in a batch file of `length` bytes; a `DataError` naming `file` unless whole. */
function recordCount(spec: CifarDatasetSpec, file: string, length: number): number {
  const record = cifarRecordBytes(spec);
  const labels = spec.labelBytes === 1 ? '1 label byte' : `${spec.labelBytes} label bytes`;
  if (length === 0 || length % record !== 0) {
    throw new DataError(
      `${file}: ${length} bytes is ${length === 0 ? 'empty' : `not a multiple of the ${spec.title} record size`}; expected whole records of ${record} bytes (${labels} + ${CIFAR_PIXEL_BYTES} pixel bytes) — the file is truncated or not a ${spec.title} binary batch`,
      file,
    );
  }
  return length / record;
}

/**
 * Decodes the records of one batch file into `x` (HWC, [0, 1]) and `y` from example `offset` on;
 * checks every label. Returns the number of records.
 */
function decodeRecords(
  spec: CifarDatasetSpec,
  label: CifarLabelSpec,
  bytes: Uint8Array,
  file: string,
  x: Float32Array,
  y: Int32Array,
  offset: number,
): number {
  const record = cifarRecordBytes(spec);
  const n = recordCount(spec, file, bytes.length);
  for (let r = 0; r < n; r++) {
    const at = r * record;
    const value = bytes[at + label.byte];
    if (value >= label.numClasses) {
      throw new DataError(
        `${file}: record ${r} (byte offset ${at}) has label ${value}; expected ${spec.title} labels 0..${label.numClasses - 1}`,
        file,
      );
    }
    y[offset + r] = value;
    const pixels = at + spec.labelBytes;
    const out = (offset + r) * CIFAR_PIXEL_BYTES;
    for (let p = 0; p < PLANE; p++) {
      const o = out + 3 * p;
      x[o] = bytes[pixels + p] / 255;
      x[o + 1] = bytes[pixels + PLANE + p] / 255;
      x[o + 2] = bytes[pixels + 2 * PLANE + p] / 255;
    }
  }
  return n;
}

/**
 * Decodes the bytes of one CIFAR batch file (`file` is used in messages): images as HWC floats in
 * [0, 1], labels of kind `label` (default: the spec's default label).
 */
export function parseCifarBatch(buffer: Uint8Array, file: string, spec: CifarDatasetSpec, label?: string): Split {
  const labelSpec = labelSpecOf(spec, label);
  const n = recordCount(spec, file, buffer.length);
  const x = new Float32Array(n * CIFAR_PIXEL_BYTES);
  const y = new Int32Array(n);
  decodeRecords(spec, labelSpec, buffer, file, x, y, 0);
  return { x, y, n };
}

/** Reads and decodes one CIFAR batch file. */
export function readCifarBatch(file: string, spec: CifarDatasetSpec, label?: string): Split {
  return parseCifarBatch(readDataFile(file, `${spec.title} batch file`), file, spec, label);
}

/** Reads the batch files of one split and concatenates them (one allocation). */
function readCifarSplit(spec: CifarDatasetSpec, label: CifarLabelSpec, files: string[]): Split {
  const buffers = files.map((file) => readDataFile(file, `${spec.title} batch file`));
  const counts = buffers.map((bytes, i) => recordCount(spec, files[i], bytes.length));
  const n = counts.reduce((a, b) => a + b, 0);
  const x = new Float32Array(n * CIFAR_PIXEL_BYTES);
  const y = new Int32Array(n);
  let offset = 0;
  buffers.forEach((bytes, i) => {
    offset += decodeRecords(spec, label, bytes, files[i], x, y, offset);
  });
  return { x, y, n };
}

/** Options of the `cifar10` and `cifar100` dataset components. */
export interface CifarDatasetOptions {
  /** CIFAR-100: "fine" (100 classes, default) or "coarse" (20 superclasses). */
  label?: string;
}

/**
 * Reads a CIFAR dataset from its files: the training batches concatenated in order, the test
 * batch(es), class names from the names file when present (else the upstream names).
 */
export function loadCifarDataset(spec: CifarDatasetSpec, files: CifarFileSet, options: CifarDatasetOptions, source: string): LabeledDataset {
  const kind = options.label ?? spec.defaultLabel;
  const label = labelSpecOf(spec, kind);
  const namesFile = files.names[kind];
  const classNames = namesFile ? readNameList(namesFile, `${spec.title} class names`, label.numClasses) : [...label.defaultNames];
  return {
    name: spec.id,
    inputShape: [...CIFAR_IMAGE_SHAPE],
    numClasses: label.numClasses,
    classNames,
    train: readCifarSplit(spec, label, files.train),
    test: readCifarSplit(spec, label, files.test),
    normalization: { mean: [...spec.normalization.mean], std: [...spec.normalization.std] },
    source,
  };
}

/** Loads CIFAR-10 or CIFAR-100 from the data lookup. */
export class CifarDatasetLoader implements DatasetLoader {
  constructor(
    readonly spec: CifarDatasetSpec,
    readonly options: CifarDatasetOptions = {},
    readonly lookup: DataLookup = {},
  ) {}

  async load(): Promise<LabeledDataset> {
    labelSpecOf(this.spec, this.options.label);
    const { dir, files } = locateCifar(this.spec, this.lookup);
    return loadCifarDataset(this.spec, files, this.options, dir);
  }
}
