/**
 * Decoding of the IDX format of the MNIST family from bytes, with no Node module: shared by the
 * file reader (idx.ts, gunzip by node:zlib) and the browser entry (gunzip by DecompressionStream).
 *
 * Layout: a 4-byte magic number `0x00 0x00 <type> <ndims>`, then `ndims` big-endian uint32
 * dimensions, then the values in row-major order, big-endian.
 */
import { DataError } from '@supermask/core';

/** IDX type codes and the typed arrays their values are returned in. */
export const IDX_TYPES = {
  0x08: { name: 'unsigned byte', bytes: 1 },
  0x09: { name: 'signed byte', bytes: 1 },
  0x0b: { name: 'short (int16)', bytes: 2 },
  0x0c: { name: 'int (int32)', bytes: 4 },
  0x0d: { name: 'float (float32)', bytes: 4 },
  0x0e: { name: 'double (float64)', bytes: 8 },
} as const;

export type IdxTypeCode = keyof typeof IDX_TYPES;

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A decoded IDX file. */
export interface IdxArray {
  /** Type code from the magic number (0x08 = unsigned byte, the MNIST files). */
  type: IdxTypeCode;
  /** Dimensions, outermost first, e.g. [60000, 28, 28]. */
  dims: number[];
  /** product(dims) values, row-major, in native byte order. */
  data: IdxData;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** True when `buffer` starts with the gzip magic bytes. */
export function isGzip(buffer: Uint8Array): boolean {
  return buffer.length >= 2 && buffer[0] === GZIP_MAGIC_0 && buffer[1] === GZIP_MAGIC_1;
}

/**
 * Decodes IDX bytes that are already gunzipped. `file` is used in error messages only;
 * `wasGzipped` only adds "(after gunzip)" to them. Validates the magic number, the dimensions and
 * that the length is exactly header + data.
 */
export function decodeIdx(bytes: Uint8Array, file: string, wasGzipped = false): IdxArray {
  if (bytes.length < 4) {
    throw new DataError(`${file}: too short for an IDX file: expected at least a 4-byte magic number, found ${bytes.length} bytes`, file);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = bytes[2];
  const ndims = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || !(type in IDX_TYPES)) {
    const found = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DataError(
      `${file}: not an IDX file: expected magic number 00 00 <type> <ndims> with type one of ${Object.keys(IDX_TYPES)
        .map((k) => `0x${Number(k).toString(16).padStart(2, '0')}`)
        .join(', ')}, found ${found}${wasGzipped ? ' (after gunzip)' : ''}`,
      file,
    );
  }
  if (ndims < 1) {
    throw new DataError(`${file}: IDX header declares 0 dimensions; expected at least 1`, file);
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new DataError(
      `${file}: truncated IDX header: expected ${headerBytes} bytes (4-byte magic + ${ndims} dimensions), found ${bytes.length}`,
      file,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const info = IDX_TYPES[type as IdxTypeCode];
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * info.bytes;
  if (bytes.length !== expected) {
    const elem = info.bytes === 1 ? '' : ` x ${info.bytes} bytes`;
    throw new DataError(
      `${file}: ${bytes.length < expected ? 'truncated' : 'wrong-sized'} IDX file: expected ${expected} bytes (${headerBytes}-byte header + ${dims.join('x')}${elem}), found ${bytes.length}`,
      file,
    );
  }
  return { type: type as IdxTypeCode, dims, data: decodeValues(bytes, view, headerBytes, count, type as IdxTypeCode) };
}

function decodeValues(bytes: Uint8Array, view: DataView, offset: number, count: number, type: IdxTypeCode): IdxData {
  switch (type) {
    case 0x08:
      // A copy (Buffer#slice would share memory), so the file buffer can be released.
      return new Uint8Array(bytes.subarray(offset, offset + count));
    case 0x09:
      return new Int8Array(new Uint8Array(bytes.subarray(offset, offset + count)).buffer);
    case 0x0b: {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 0x0c: {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 0x0d: {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 0x0e: {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

