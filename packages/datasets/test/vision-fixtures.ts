/**
 * Small CIFAR and TinyImageNet fixtures in the exact distributed formats, written by the tests
 * into temporary directories.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from 'jpeg-js';

/** Pixel byte of CIFAR fixture record `id`, colour plane `c` (0 R, 1 G, 2 B), pixel `p` (row * 32 + col). */
export function cifarPixel(id: number, c: number, p: number): number {
  return (id * 31 + c * 85 + p * 7) % 256;
}

/** One CIFAR record: label bytes, then the R, G and B planes of fixture image `id`. */
export function cifarRecord(labels: number[], id: number): Uint8Array {
  const out = new Uint8Array(labels.length + 3072);
  out.set(labels, 0);
  for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) out[labels.length + c * 1024 + p] = cifarPixel(id, c, p);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * A CIFAR-10 `cifar-10-batches-bin` folder in `dir`: five training batches of `perFile` records
 * and a test batch of `testCount`. Training record k (0-based over all batches) is image id k with
 * label k % 10; test record k is image id 1000 + k with label (k * 3) % 10.
 */
export function writeCifar10(dir: string, options: { perFile?: number; testCount?: number; meta?: string | null } = {}): void {
  mkdirSync(dir, { recursive: true });
  const perFile = options.perFile ?? 3;
  for (let b = 0; b < 5; b++) {
    const records = Array.from({ length: perFile }, (_, r) => {
      const k = b * perFile + r;
      return cifarRecord([k % 10], k);
    });
    writeFileSync(join(dir, `data_batch_${b + 1}.bin`), concat(records));
  }
  const testCount = options.testCount ?? 4;
  writeFileSync(join(dir, 'test_batch.bin'), concat(Array.from({ length: testCount }, (_, k) => cifarRecord([(k * 3) % 10], 1000 + k))));
  const meta = options.meta === undefined ? 'plane\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n' : options.meta;
  if (meta !== null) writeFileSync(join(dir, 'batches.meta.txt'), meta);
}

/**
 * A CIFAR-100 `cifar-100-binary` folder in `dir`: train.bin with `train` records (record k: image
 * id k, fine label k % 100, coarse label (k * 7) % 20), test.bin with `test` records (image id
 * 5000 + k, fine (99 - k) % 100, coarse k % 20), and the two name files unless `names` is false.
 */
export function writeCifar100(dir: string, options: { train?: number; test?: number; names?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true });
  const train = options.train ?? 200;
  const test = options.test ?? 5;
  writeFileSync(join(dir, 'train.bin'), concat(Array.from({ length: train }, (_, k) => cifarRecord([(k * 7) % 20, k % 100], k))));
  writeFileSync(join(dir, 'test.bin'), concat(Array.from({ length: test }, (_, k) => cifarRecord([k % 20, (99 - k) % 100], 5000 + k))));
  if (options.names ?? true) {
    writeFileSync(join(dir, 'fine_label_names.txt'), Array.from({ length: 100 }, (_, i) => `fine_${i}`).join('\n') + '\n');
    writeFileSync(join(dir, 'coarse_label_names.txt'), Array.from({ length: 20 }, (_, i) => `coarse_${i}`).join('\n') + '\n\n');
  }
}

/** RGB value of colour fixture image `id` at (y, x): smooth, so JPEG keeps it close. */
export function tinyPixel(id: number, y: number, x: number, c: number): number {
  return Math.round(40 + ((id * 53 + c * 60 + y * 2 + x) % 170));
}

const encoded = new Map<string, Uint8Array>();

/** A colour JPEG (jpeg-js, quality 100) of fixture image `id`, `size` x `size` (encoded once, cached). */
export function colourJpeg(id: number, size = 64): Uint8Array {
  const key = `${id}/${size}`;
  const cached = encoded.get(key);
  if (cached) return cached;
  const data = Buffer.alloc(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) data[(y * size + x) * 4 + c] = tinyPixel(id, y, x, c);
      data[(y * size + x) * 4 + 3] = 255;
    }
  }
  const jpeg = new Uint8Array(encode({ data, width: size, height: size }, 100).data);
  encoded.set(key, jpeg);
  return jpeg;
}

/** Grey value of the grayscale fixture at block (by, bx) (8x8 blocks). */
export function grayBlockValue(by: number, bx: number): number {
  return (by * 8 + bx) * 4;
}

/**
 * A baseline single-component (grayscale) JPEG whose 8x8 blocks are flat with value
 * `value(by, bx)`: only DC coefficients (quantisation 1), so it decodes exactly. jpeg-js only
 * encodes colour JPEGs, hence this small encoder.
 */
export function grayscaleJpeg(width: number, height: number, value: (by: number, bx: number) => number = grayBlockValue): Uint8Array {
  const bytes: number[] = [];
  const word = (v: number) => bytes.push((v >> 8) & 255, v & 255);
  bytes.push(0xff, 0xd8); // SOI
  bytes.push(0xff, 0xdb); // DQT: table 0, 8-bit, all ones
  word(67);
  bytes.push(0, ...new Array<number>(64).fill(1));
  bytes.push(0xff, 0xc0); // SOF0: 8-bit, one component (id 1, 1x1 sampling, table 0)
  word(11);
  bytes.push(8);
  word(height);
  word(width);
  bytes.push(1, 1, 0x11, 0);
  const dcBits = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]; // the standard luminance DC table
  const dcValues = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  bytes.push(0xff, 0xc4);
  word(3 + 16 + dcValues.length);
  bytes.push(0x00, ...dcBits, ...dcValues);
  const acBits = [0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // EOB = 00 (and 0x01 = 01, unused)
  bytes.push(0xff, 0xc4);
  word(3 + 16 + 2);
  bytes.push(0x10, ...acBits, 0x00, 0x01);
  bytes.push(0xff, 0xda); // SOS
  word(8);
  bytes.push(1, 1, 0x00, 0, 63, 0);
  const dcCode = new Map<number, { code: number; length: number }>();
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    for (let i = 0; i < dcBits[length - 1]; i++) dcCode.set(dcValues[k++], { code: code++, length });
    code <<= 1;
  }
  let acc = 0;
  let count = 0;
  const put = (bits: number, length: number) => {
    for (let i = length - 1; i >= 0; i--) {
      acc = (acc << 1) | ((bits >> i) & 1);
      if (++count === 8) {
        bytes.push(acc);
        if (acc === 0xff) bytes.push(0x00);
        acc = 0;
        count = 0;
      }
    }
  };
  let previous = 0;
  for (let by = 0; by < Math.ceil(height / 8); by++) {
    for (let bx = 0; bx < Math.ceil(width / 8); bx++) {
      const dc = (value(by, bx) - 128) * 8;
      const diff = dc - previous;
      previous = dc;
      const magnitude = Math.abs(diff);
      const category = magnitude === 0 ? 0 : Math.floor(Math.log2(magnitude)) + 1;
      const c = dcCode.get(category)!;
      put(c.code, c.length);
      if (category > 0) put(diff > 0 ? diff : diff + (1 << category) - 1, category);
      put(0, 2); // EOB: all AC coefficients zero
    }
  }
  if (count > 0) put((1 << (8 - count)) - 1, 8 - count);
  bytes.push(0xff, 0xd9); // EOI
  return Uint8Array.from(bytes);
}

export const FIXTURE_WNIDS = ['n01443537', 'n01629819', 'n01641577'];

export interface TinyTreeOptions {
  /** Training file names per class (default: <wnid>_0, _1, _2, _10 .JPEG). */
  trainNames?: (wnid: string) => string[];
  /** Replaces the bytes of a file (path relative to the tree root). */
  override?: Record<string, Uint8Array | string>;
  /** Extra lines appended to val_annotations.txt. */
  extraAnnotations?: string[];
  words?: boolean;
}

/**
 * A tiny `tiny-imagenet-200` tree in `dir`: 3 wnids; 4 training JPEGs per class (colour images
 * with ids 10 * class + index; `train/n01629819/images/n01629819_1.JPEG` is grayscale); 6 val
 * images val_0..val_5 of classes 2, 0, 1, 0, 2, 1 (colour ids 100 + i).
 */
export function writeTinyImageNet(dir: string, options: TinyTreeOptions = {}): void {
  mkdirSync(join(dir, 'val', 'images'), { recursive: true });
  writeFileSync(join(dir, 'wnids.txt'), FIXTURE_WNIDS.join('\n') + '\n');
  if (options.words ?? true) {
    writeFileSync(
      join(dir, 'words.txt'),
      [
        'n00001740\tentity',
        'n01443537\tgoldfish, Carassius auratus',
        'n01629819\tEuropean fire salamander, Salamandra salamandra',
        'n01641577\tbullfrog, Rana catesbeiana',
      ].join('\n') + '\n',
    );
  }
  FIXTURE_WNIDS.forEach((wnid, c) => {
    const images = join(dir, 'train', wnid, 'images');
    mkdirSync(images, { recursive: true });
    writeFileSync(join(dir, 'train', wnid, `${wnid}_boxes.txt`), `${wnid}_0.JPEG\t0\t0\t63\t63\n`);
    const names = options.trainNames ? options.trainNames(wnid) : [0, 1, 2, 10].map((i) => `${wnid}_${i}.JPEG`);
    names.forEach((name, i) => {
      const gray = wnid === 'n01629819' && name === 'n01629819_1.JPEG';
      writeFileSync(join(images, name), gray ? grayscaleJpeg(64, 64) : colourJpeg(10 * c + i));
    });
  });
  const valClasses = [2, 0, 1, 0, 2, 1];
  valClasses.forEach((c, i) => writeFileSync(join(dir, 'val', 'images', `val_${i}.JPEG`), colourJpeg(100 + i)));
  const lines = valClasses.map((c, i) => `val_${i}.JPEG\t${FIXTURE_WNIDS[c]}\t0\t5\t60\t62`);
  writeFileSync(join(dir, 'val', 'val_annotations.txt'), [...lines, ...(options.extraAnnotations ?? [])].join('\n') + '\n');
  for (const [path, content] of Object.entries(options.override ?? {})) writeFileSync(join(dir, path), content);
}
