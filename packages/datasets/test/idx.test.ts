import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '@supermask/core';
import { encodeIdx, parseIdx, readIdx } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'supermask-idx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Hand-made IDX bytes, independent of encodeIdx: unsigned bytes with the given dims. */
function idxBytes(dims: number[], values: number[]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(values)]);
}

function expectDataError(fn: () => unknown, ...fragments: string[]): DataError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(DataError);
  const error = caught as DataError;
  expect(error.exitCode).toBe(3);
  for (const fragment of fragments) expect(error.message).toContain(fragment);
  return error;
}

describe('IDX reader', () => {
  const values = Array.from({ length: 2 * 3 * 4 }, (_, i) => (i * 37) % 256);

  it('reads a raw unsigned-byte file', () => {
    const file = join(dir, 'raw-idx3-ubyte');
    writeFileSync(file, idxBytes([2, 3, 4], values));
    const idx = readIdx(file);
    expect(idx.type).toBe(0x08);
    expect(idx.dims).toEqual([2, 3, 4]);
    expect(idx.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(idx.data)).toEqual(values);
  });

  it('reads a gzipped file (detected by its magic bytes, whatever its name)', () => {
    const file = join(dir, 'gzipped-without-extension');
    writeFileSync(file, gzipSync(idxBytes([2, 3, 4], values)));
    const idx = readIdx(file);
    expect(idx.dims).toEqual([2, 3, 4]);
    expect(Array.from(idx.data)).toEqual(values);
  });

  it('round-trips encodeIdx for raw and gz files and every value type', () => {
    const arrays = [
      new Uint8Array([0, 1, 255, 128, 7, 9]),
      new Int8Array([-128, -1, 0, 1, 127, 5]),
      new Int16Array([-32768, -2, 0, 3, 32767, 1000]),
      new Int32Array([-2147483648, -5, 0, 6, 2147483647, 123456]),
      new Float32Array([-1.5, 0, 0.25, 3.75, 1e-3, 42]),
      new Float64Array([-1e300, 0, Math.PI, 2.5, 1e-300, 7]),
    ];
    for (const data of arrays) {
      for (const gzip of [false, true]) {
        const file = join(dir, `roundtrip-${data.constructor.name}${gzip ? '.gz' : ''}`);
        writeFileSync(file, encodeIdx([3, 2], data, { gzip }));
        const idx = readIdx(file);
        expect(idx.dims).toEqual([3, 2]);
        expect(idx.data.constructor).toBe(data.constructor);
        expect(Array.from(idx.data)).toEqual(Array.from(data));
      }
    }
  });

  it('rejects a truncated file, naming the file and the expected size', () => {
    const file = join(dir, 'truncated-idx3-ubyte');
    writeFileSync(file, idxBytes([10, 28, 28], new Array(1000 - 16).fill(0)));
    expectDataError(() => readIdx(file), file, 'expected 7856 bytes (16-byte header + 10x28x28), found 1000');
  });

  it('rejects a file with trailing bytes', () => {
    const file = join(dir, 'long-idx1-ubyte');
    writeFileSync(file, idxBytes([3], [1, 2, 3, 4]));
    expectDataError(() => readIdx(file), file, 'expected 11 bytes (8-byte header + 3), found 12');
  });

  it('rejects a truncated header', () => {
    const file = join(dir, 'short-header');
    writeFileSync(file, Buffer.from([0, 0, 8, 3, 0, 0]));
    expectDataError(() => readIdx(file), file, 'expected 16 bytes');
  });

  it('rejects a wrong magic number, naming the file', () => {
    const file = join(dir, 'not-idx.txt');
    writeFileSync(file, Buffer.from('hello world, not an IDX file'));
    expectDataError(() => readIdx(file), file, 'magic number', '68 65 6c 6c');
    const badType = join(dir, 'bad-type');
    writeFileSync(badType, Buffer.from([0, 0, 0x42, 1, 0, 0, 0, 0]));
    expectDataError(() => readIdx(badType), badType, 'magic number');
  });

  it('rejects a corrupt or truncated gzip file, naming the file', () => {
    const gz = gzipSync(idxBytes([2, 3, 4], values));
    const truncated = join(dir, 'truncated.gz');
    writeFileSync(truncated, gz.subarray(0, Math.floor(gz.length / 2)));
    expectDataError(() => readIdx(truncated), truncated, 'gzip');
    const corrupt = Buffer.from(gz);
    for (let i = 10; i < corrupt.length - 8; i++) corrupt[i] ^= 0x5a;
    const corruptFile = join(dir, 'corrupt.gz');
    writeFileSync(corruptFile, corrupt);
    expectDataError(() => readIdx(corruptFile), corruptFile, 'gzip');
  });

  it('reports a missing file', () => {
    const file = join(dir, 'does-not-exist-idx3-ubyte');
    expectDataError(() => readIdx(file), file, 'not found');
  });

  it('parseIdx names the given file in errors', () => {
    expectDataError(() => parseIdx(new Uint8Array([0, 0]), '/some/where/x.idx'), '/some/where/x.idx');
  });
});
