#!/usr/bin/env node
/**
 * Makes the embedded Fashion-MNIST subset of @supermask/datasets:
 * the first 1,000 training images of each class and the first 200 test images of each class,
 * kept in file order, written as gzipped (level 9) IDX files with the upstream names into
 * packages/datasets/data/fashion-mnist-subset/.
 *
 * Usage: node packages/datasets/scripts/make-embedded.mjs [FULL_DIR]
 *   FULL_DIR holds the four original IDX files (raw or .gz); default: ../shared/datasets/fashion-mnist
 *   relative to the repository root.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(packageDir, '..', '..');
const sourceDir = resolve(process.argv[2] ?? join(repoRoot, '..', 'shared', 'datasets', 'fashion-mnist'));
const outDir = join(packageDir, 'data', 'fashion-mnist-subset');
const PER_CLASS = { train: 1000, test: 200 };
const NUM_CLASSES = 10;

function fail(message) {
  console.error(`make-embedded: ${message}`);
  process.exit(1);
}

/** Reads `<dir>/<name>` or `<dir>/<name>.gz`, gunzipping when the gzip magic is present. */
function readIdx(name) {
  const file = [join(sourceDir, name), join(sourceDir, `${name}.gz`)].find((f) => existsSync(f));
  if (!file) fail(`${join(sourceDir, name)}[.gz] not found (pass the directory of the full Fashion-MNIST IDX files)`);
  let bytes = readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) fail(`${file}: not an unsigned-byte IDX file`);
  const ndims = bytes[3];
  const dims = Array.from({ length: ndims }, (_, i) => bytes.readUInt32BE(4 + 4 * i));
  const header = 4 + 4 * ndims;
  const expected = header + dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== expected) fail(`${file}: expected ${expected} bytes (${header}-byte header + ${dims.join('x')}), found ${bytes.length}`);
  return { file, dims, data: bytes.subarray(header) };
}

function writeIdx(name, dims, data) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const out = join(outDir, `${name}.gz`);
  writeFileSync(out, gzipSync(Buffer.concat([header, data]), { level: 9 }));
  return out;
}

function subset(split, perClass) {
  const images = readIdx(`${split}-images-idx3-ubyte`);
  const labels = readIdx(`${split}-labels-idx1-ubyte`);
  const n = images.dims[0];
  if (labels.dims[0] !== n) fail(`${labels.file} holds ${labels.dims[0]} labels for ${n} images in ${images.file}`);
  const size = images.dims.slice(1).reduce((a, b) => a * b, 1);
  const taken = new Array(NUM_CLASSES).fill(0);
  const keep = [];
  for (let i = 0; i < n; i++) {
    const label = labels.data[i];
    if (label >= NUM_CLASSES) fail(`${labels.file}: label ${label} at index ${i}`);
    if (taken[label] < perClass) {
      taken[label]++;
      keep.push(i);
    }
  }
  const short = taken.findIndex((count) => count < perClass);
  if (short >= 0) fail(`${labels.file}: class ${short} has only ${taken[short]} examples, ${perClass} needed`);
  const x = Buffer.alloc(keep.length * size);
  const y = Buffer.alloc(keep.length);
  keep.forEach((index, j) => {
    images.data.copy(x, j * size, index * size, (index + 1) * size);
    y[j] = labels.data[index];
  });
  const name = split === 't10k' ? 't10k' : 'train';
  const written = [
    writeIdx(`${name}-images-idx3-ubyte`, [keep.length, ...images.dims.slice(1)], x),
    writeIdx(`${name}-labels-idx1-ubyte`, [keep.length], y),
  ];
  console.log(`${split}: kept ${keep.length} of ${n} examples (${perClass} per class) -> ${written.join(', ')}`);
}

mkdirSync(outDir, { recursive: true });
subset('train', PER_CLASS.train);
subset('t10k', PER_CLASS.test);
const copyright = join(sourceDir, 'COPYRIGHT');
if (existsSync(copyright)) {
  // Copied by content (not copyFileSync) so a read-only source does not give a read-only copy.
  writeFileSync(join(outDir, 'COPYRIGHT'), readFileSync(copyright));
  console.log(`copied ${copyright}`);
} else {
  console.warn(`make-embedded: ${copyright} not found; keep the upstream licence next to the data yourself`);
}
