/**
 * TinyImageNet (200 classes of 64x64 colour images) in its distributed folder layout,
 * `tiny-imagenet-200/`:
 *
 * - `wnids.txt`: the 200 WordNet ids of the classes, one per line (label = line index);
 * - `words.txt`: `<wnid>\t<names, comma separated>` for WordNet ids (optional here);
 * - `train/<wnid>/images/*.JPEG`: 500 training images per class;
 * - `val/images/*.JPEG` and `val/val_annotations.txt` (tab separated: file, wnid, x, y, w, h):
 *   the 10,000 validation images, used as the test split.
 *
 * JPEGs are decoded by jpeg-js (pure JavaScript); grayscale (and CMYK) JPEGs come out as RGB, so
 * every image becomes HWC floats in [0, 1] of shape [64, 64, 3].
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from 'jpeg-js';
import { ConfigError, DataError, type DatasetLoader, type LabeledDataset, type Split } from '@supermask/core';
import { isDirectory, isFile, locateDataFiles, readDataFile, type DataLocation, type DataLookup, type ProbeResult } from './lookup.js';

/** Side of a TinyImageNet image in pixels. */
export const TINY_IMAGENET_SIZE = 64;

/** Shape of one TinyImageNet image (HWC). */
export const TINY_IMAGENET_SHAPE: readonly [number, number, number] = [TINY_IMAGENET_SIZE, TINY_IMAGENET_SIZE, 3];

export interface TinyImageNetSpec extends DataLocation {
  id: string;
  normalization: { mean: number[]; std: number[] };
}

export const TINY_IMAGENET: TinyImageNetSpec = {
  id: 'tinyimagenet',
  title: 'TinyImageNet',
  subdir: 'tiny-imagenet-200',
  defaultDir: '/usr/share/datasets/tinyimagenet',
  normalization: { mean: [0.4802, 0.4481, 0.3975], std: [0.2302, 0.2265, 0.2262] },
  howToGet: [
    'download tiny-imagenet-200.zip (the Tiny ImageNet Visual Recognition Challenge data, http://cs231n.stanford.edu/tiny-imagenet-200.zip)',
    'extract it into a directory DIR (`unzip tiny-imagenet-200.zip -d DIR`, which creates DIR/tiny-imagenet-200) and pass `--data-dir DIR` or set SUPERMASK_DATA=DIR',
    'or extract it into /usr/share/datasets/tinyimagenet (searched by default)',
  ],
};

/** Paths of the TinyImageNet files found in one directory. */
export interface TinyImageNetFileSet {
  wnids: string;
  /** `words.txt`, when present (class names; the wnids are used otherwise). */
  words?: string;
  /** `train/`: one folder `<wnid>/images/` per class. */
  trainDir: string;
  valAnnotations: string;
  valImagesDir: string;
}

/** The TinyImageNet files in `dir` (the folder holding wnids.txt, train/ and val/). */
export function findTinyImageNetFiles(dir: string): ProbeResult<TinyImageNetFileSet> {
  const files = {
    wnids: join(dir, 'wnids.txt'),
    trainDir: join(dir, 'train'),
    valAnnotations: join(dir, 'val', 'val_annotations.txt'),
    valImagesDir: join(dir, 'val', 'images'),
  };
  const missing: string[] = [];
  if (!isFile(files.wnids)) missing.push('wnids.txt');
  if (!isDirectory(files.trainDir)) missing.push('train/');
  if (!isFile(files.valAnnotations)) missing.push('val/val_annotations.txt');
  if (!isDirectory(files.valImagesDir)) missing.push('val/images/');
  if (missing.length > 0) return { missing };
  const words = join(dir, 'words.txt');
  return { files: isFile(words) ? { ...files, words } : files };
}

/**
 * Finds the first searched directory holding the TinyImageNet layout. Throws `DataError` listing
 * every place searched and how to get the data when none does.
 */
export function locateTinyImageNet(lookup: DataLookup = {}, spec: TinyImageNetSpec = TINY_IMAGENET): { dir: string; files: TinyImageNetFileSet } {
  return locateDataFiles(
    spec,
    lookup,
    findTinyImageNetFiles,
    'Expected the extracted tiny-imagenet-200 folder: wnids.txt, train/<wnid>/images/*.JPEG, val/images/*.JPEG and val/val_annotations.txt (words.txt optional) directly in one of these directories.',
  );
}

/**
 * Decodes a JPEG into RGB bytes (height x width x 3, row-major). Grayscale JPEGs are expanded to
 * three equal channels (CMYK ones converted). A `DataError` naming `file` when the bytes are not
 * a decodable JPEG, or when `expected` is given and the image has another size.
 */
export function decodeJpegRgb(buffer: Uint8Array, file: string, expected?: { width: number; height: number }): { width: number; height: number; data: Uint8Array } {
  // The size the frame header declares is checked before decoding, so a small file claiming a
  // huge image never makes the decoder allocate for it.
  const declared = jpegFrameSize(buffer);
  if (expected && declared && (declared.width !== expected.width || declared.height !== expected.height)) {
    throw new DataError(`${file}: JPEG image is ${declared.width}x${declared.height}; expected ${expected.width}x${expected.height} (size read from its frame header, not decoded)`, file);
  }
  let image: { width: number; height: number; data: Uint8Array };
  try {
    image = decode(buffer, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: 16, maxMemoryUsageInMB: 256 });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DataError(`${file}: not a decodable JPEG image (${reason}); expected a ${expected ? `${expected.width}x${expected.height} ` : ''}JPEG file`, file);
  }
  if (expected && (image.width !== expected.width || image.height !== expected.height)) {
    throw new DataError(`${file}: JPEG image is ${image.width}x${image.height}; expected ${expected.width}x${expected.height}`, file);
  }
  if (image.data.length !== image.width * image.height * 3) {
    throw new DataError(`${file}: JPEG decoded to ${image.data.length} bytes; expected ${image.width}x${image.height}x3 RGB values`, file);
  }
  return image;
}

/**
 * The image size in a JPEG's frame header (the first SOFn marker), or undefined when the bytes
 * end before one (the decoder then reports what is wrong).
 */
export function jpegFrameSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let at = 2;
  while (at + 3 < bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // markers without a segment
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // scan data or end before a frame header
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (at + 9 > bytes.length) return undefined;
      return { height: (bytes[at + 5]! << 8) | bytes[at + 6]!, width: (bytes[at + 7]! << 8) | bytes[at + 8]! };
    }
    at += 2 + ((bytes[at + 2]! << 8) | bytes[at + 3]!);
  }
  return undefined;
}

/** Compares file names with digit runs as numbers ("x_2" < "x_10"), else by code points. */
export function naturalCompare(a: string, b: string): number {
  const chunk = /(\d+)|(\D+)/g;
  const as = a.match(chunk) ?? [];
  const bs = b.match(chunk) ?? [];
  for (let i = 0; i < Math.min(as.length, bs.length); i++) {
    const x = as[i];
    const y = bs[i];
    if (x === y) continue;
    const xDigits = /^\d/.test(x);
    const yDigits = /^\d/.test(y);
    if (xDigits && yDigits) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
    }
    return x < y ? -1 : 1;
  }
  if (as.length !== bs.length) return as.length - bs.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

const JPEG_NAME = /\.jpe?g$/i;

/** Options of the `tinyimagenet` dataset component. */
export interface TinyImageNetOptions {
  /** Load only the first N classes of wnids.txt (default: all). */
  classes?: number;
  /** At most this many training images per class: the first ones in file-name order (default: all). */
  train_per_class?: number;
}

/** The wnids of wnids.txt, in order (label = index); a `DataError` naming it when malformed. */
export function readWnids(file: string): string[] {
  const wnids = readDataFile(file, 'TinyImageNet class list (wnids.txt)')
    .toString('utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (wnids.length === 0) throw new DataError(`${file}: lists no wnids; expected one WordNet id (e.g. n01443537) per line`, file);
  const seen = new Set<string>();
  wnids.forEach((wnid, i) => {
    if (/\s/.test(wnid)) throw new DataError(`${file}: line ${i + 1} "${wnid}" is not a single WordNet id; expected one id per line`, file);
    if (seen.has(wnid)) throw new DataError(`${file}: wnid ${wnid} appears twice (line ${i + 1}); expected distinct ids`, file);
    seen.add(wnid);
  });
  return wnids;
}

/**
 * Class names of `wnids` from words.txt: the first name of each entry (before the first comma);
 * the wnid itself when words.txt is absent or has no entry for it.
 */
export function readClassNames(wordsFile: string | undefined, wnids: readonly string[]): string[] {
  const names = new Map<string, string>();
  if (wordsFile) {
    const wanted = new Set(wnids);
    for (const line of readDataFile(wordsFile, 'TinyImageNet class names (words.txt)').toString('utf8').split(/\r?\n/)) {
      const tab = line.indexOf('\t');
      if (tab < 0) continue;
      const wnid = line.slice(0, tab).trim();
      if (!wanted.has(wnid)) continue;
      const first = line.slice(tab + 1).split(',')[0].trim();
      if (first.length > 0) names.set(wnid, first);
    }
  }
  return wnids.map((wnid) => names.get(wnid) ?? wnid);
}

/** The training JPEGs of one class, in file-name order (at most `limit`). */
function trainImagesOf(trainDir: string, wnid: string, limit: number | undefined): string[] {
  const dir = join(trainDir, wnid, 'images');
  if (!isDirectory(dir)) {
    throw new DataError(`${dir}: training images of class ${wnid} not found; expected a folder train/${wnid}/images holding its JPEG files`, dir);
  }
  const names = readdirSync(dir).filter((name) => JPEG_NAME.test(name)).sort(naturalCompare);
  if (names.length === 0) throw new DataError(`${dir}: holds no JPEG files; expected the training images of class ${wnid}`, dir);
  return (limit === undefined ? names : names.slice(0, limit)).map((name) => join(dir, name));
}

/**
 * The validation images and labels of the selected classes, in the order of val_annotations.txt.
 * A `DataError` naming the file for a malformed line, a wnid not in wnids.txt or a file listed twice.
 */
function valImages(files: TinyImageNetFileSet, labelOf: Map<string, number>, known: Set<string>): { file: string; label: number }[] {
  const text = readDataFile(files.valAnnotations, 'TinyImageNet validation annotations').toString('utf8');
  const out: { file: string; label: number }[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim().length === 0) return;
    const fields = line.split('\t').map((f) => f.trim());
    if (fields.length < 2 || fields[0].length === 0 || fields[1].length === 0) {
      throw new DataError(
        `${files.valAnnotations}: line ${i + 1} is malformed; expected tab-separated fields file, wnid, x, y, w, h (e.g. "val_0.JPEG\\tn03444034\\t0\\t32\\t44\\t62")`,
        files.valAnnotations,
      );
    }
    const [name, wnid] = fields;
    if (!known.has(wnid)) {
      throw new DataError(`${files.valAnnotations}: line ${i + 1} names wnid ${wnid} for ${name}, which is not in wnids.txt; expected one of the dataset's classes`, files.valAnnotations);
    }
    if (seen.has(name)) throw new DataError(`${files.valAnnotations}: line ${i + 1} lists ${name} a second time; expected one annotation per image`, files.valAnnotations);
    seen.add(name);
    const label = labelOf.get(wnid);
    if (label !== undefined) out.push({ file: join(files.valImagesDir, name), label });
  });
  return out;
}

/** Decodes `images` into one split (HWC floats in [0, 1]). */
function decodeSplit(images: { file: string; label: number }[]): Split {
  const size = TINY_IMAGENET_SIZE * TINY_IMAGENET_SIZE * 3;
  const n = images.length;
  const x = new Float32Array(n * size);
  const y = new Int32Array(n);
  const expected = { width: TINY_IMAGENET_SIZE, height: TINY_IMAGENET_SIZE };
  images.forEach(({ file, label }, i) => {
    const { data } = decodeJpegRgb(readDataFile(file, 'TinyImageNet JPEG image'), file, expected);
    const offset = i * size;
    for (let k = 0; k < size; k++) x[offset + k] = data[k] / 255;
    y[i] = label;
  });
  return { x, y, n };
}

/**
 * Loads TinyImageNet from its files: classes = the first `classes` wnids of wnids.txt (all by
 * default), training images per class in file-name order (at most `train_per_class`), the
 * validation images of those classes (val_annotations.txt order) as the test split.
 */
export function loadTinyImageNet(files: TinyImageNetFileSet, options: TinyImageNetOptions, source: string, spec: TinyImageNetSpec = TINY_IMAGENET): LabeledDataset {
  const all = readWnids(files.wnids);
  if (options.classes !== undefined && options.classes > all.length) {
    throw new ConfigError(`too many classes asked of ${spec.title}`, [
      `dataset.options.classes: ${options.classes} classes asked, but ${files.wnids} lists ${all.length}`,
    ]);
  }
  const wnids = all.slice(0, options.classes ?? all.length);
  const labelOf = new Map(wnids.map((wnid, i) => [wnid, i] as [string, number]));
  const train: { file: string; label: number }[] = [];
  wnids.forEach((wnid, label) => {
    for (const file of trainImagesOf(files.trainDir, wnid, options.train_per_class)) train.push({ file, label });
  });
  const test = valImages(files, labelOf, new Set(all));
  return {
    name: spec.id,
    inputShape: [...TINY_IMAGENET_SHAPE],
    numClasses: wnids.length,
    classNames: readClassNames(files.words, wnids),
    train: decodeSplit(train),
    test: decodeSplit(test),
    normalization: { mean: [...spec.normalization.mean], std: [...spec.normalization.std] },
    source,
  };
}

/** Loads TinyImageNet from the data lookup. */
export class TinyImageNetLoader implements DatasetLoader {
  constructor(
    readonly options: TinyImageNetOptions = {},
    readonly lookup: DataLookup = {},
    readonly spec: TinyImageNetSpec = TINY_IMAGENET,
  ) {}

  async load(): Promise<LabeledDataset> {
    const { dir, files } = locateTinyImageNet(this.lookup, this.spec);
    return loadTinyImageNet(files, this.options, dir, this.spec);
  }
}
