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
import { decodeIdx, IDX_TYPES, isGzip, type IdxArray, type IdxData, type IdxTypeCode } from './idx-decode.js';

export { decodeIdx, IDX_TYPES, isGzip, type IdxArray, type IdxData, type IdxTypeCode } from './idx-decode.js';

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
  return decodeIdx(bytes, file, bytes !== buffer);
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
