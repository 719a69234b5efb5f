/**
 * Reader (and writer) of the IDX format of the MNIST family.
 *
 * Layout: a 4-byte magic number `0x00 0x00 <type> <ndims>`, then `ndims` big-endian uint32
 * dimensions, then the values in row-major order, big-endian. Files may be gzipped (detected by
 * the gzip magic bytes 1f 8b, not by the file name).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
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

/** Reads and decodes an IDX file, raw or gzipped. Throws `DataError` naming `file` on any problem. */
export function readIdx(file: string): IdxArray {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new DataError(`${file}: cannot read IDX file (${reason})`, file);
  }
  return parseIdx(raw, file);
}

/**
 * Decodes IDX bytes (raw or gzipped). `file` is used in error messages only.
 * Validates the magic number, the dimensions and that the length is exactly header + data.
 */
export function parseIdx(buffer: Uint8Array, file: string): IdxArray {
  let bytes = buffer;
  if (isGzip(buffer)) {
    try {
      bytes = gunzipSync(buffer);
    } catch (error) {
      throw new DataError(
        `${file}: corrupt or truncated gzip data (${(error as Error).message}); expected a complete gzip stream of an IDX file — download the file again`,
        file,
      );
    }
  }
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
        .join(', ')}, found ${found}${isGzip(buffer) ? ' (after gunzip)' : ''}`,
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

/** Type code of the typed array a value array is stored in. */
function typeCodeOf(data: IdxData): IdxTypeCode {
  if (data instanceof Uint8Array) return 0x08;
  if (data instanceof Int8Array) return 0x09;
  if (data instanceof Int16Array) return 0x0b;
  if (data instanceof Int32Array) return 0x0c;
  if (data instanceof Float32Array) return 0x0d;
  return 0x0e;
}

/**
 * Encodes `data` with dimensions `dims` as IDX bytes (the type follows the typed array), gzipped
 * (level 9) when `gzip` is true. The inverse of `parseIdx`.
 */
export function encodeIdx(dims: readonly number[], data: IdxData, options: { gzip?: boolean } = {}): Buffer {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`encodeIdx: dims ${dims.join('x')} hold ${count} values, data has ${data.length}`);
  }
  if (dims.length < 1 || dims.length > 255) throw new RangeError(`encodeIdx: expected 1..255 dimensions, got ${dims.length}`);
  const type = typeCodeOf(data);
  const size = IDX_TYPES[type].bytes;
  const header = 4 + 4 * dims.length;
  const out = Buffer.alloc(header + count * size);
  out[2] = type;
  out[3] = dims.length;
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < count; i++) {
    const o = header + i * size;
    switch (type) {
      case 0x08:
        view.setUint8(o, data[i]);
        break;
      case 0x09:
        view.setInt8(o, data[i]);
        break;
      case 0x0b:
        view.setInt16(o, data[i], false);
        break;
      case 0x0c:
        view.setInt32(o, data[i], false);
        break;
      case 0x0d:
        view.setFloat32(o, data[i], false);
        break;
      case 0x0e:
        view.setFloat64(o, data[i], false);
        break;
    }
  }
  return options.gzip ? gzipSync(out, { level: 9 }) : out;
}
