/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of
 * JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} }`, then the
 * data section; offsets are relative to the start of the data section. Parsed here with full
 * validation: the header must fit in the file, every tensor's byte range must lie inside the data
 * section, match its shape times its dtype's size, and not overlap another tensor's. Every error
 * is a `DataError` naming the file.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { DataError, fromFloat16, toFloat16, writeFileAtomic } from '@supermask/core';

/** Element types the reader converts to float32. */
export const FLOAT_DTYPES = ['F32', 'F16', 'BF16'] as const;
export type FloatDtype = (typeof FLOAT_DTYPES)[number];

/** Bytes per element of every dtype the format defines (others are rejected by name). */
const DTYPE_SIZES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

/** One tensor entry of the header. */
export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  /** Byte range in the data section, [begin, end). */
  offsets: [number, number];
}

/** A parsed safetensors header. */
export interface SafetensorsHeader {
  file: string;
  /** Length of the JSON header in bytes. */
  headerLength: number;
  /** Byte offset of the data section in the file (8 + headerLength). */
  dataStart: number;
  fileLength: number;
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsEntry>;
}

/** A tensor read as float32 values. */
export interface FloatTensor {
  dtype: FloatDtype;
  shape: number[];
  values: Float32Array;
}

/** Largest header the reader accepts (the reference implementation's limit is 100 MB). */
const MAX_HEADER = 100_000_000;

/** Reads and validates the header of a safetensors file (the data is not read). */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new DataError(`cannot open ${file}: ${(error as Error).message}`, file);
  }
  try {
    const fileLength = fstatSync(fd).size;
    if (fileLength < 8) throw new DataError(`${file} is not a safetensors file: ${fileLength} bytes, shorter than the 8-byte header length`, file);
    const prefix = Buffer.alloc(8);
    readSync(fd, prefix, 0, 8, 0);
    const declared = prefix.readBigUInt64LE(0);
    if (declared > BigInt(fileLength - 8)) {
      throw new DataError(`${file} is truncated or not a safetensors file: its header declares ${declared} bytes of JSON, but only ${fileLength - 8} bytes follow`, file);
    }
    const headerLength = Number(declared);
    if (headerLength < 2 || headerLength > MAX_HEADER) throw new DataError(`${file}: header length ${headerLength} is not plausible (2..${MAX_HEADER} bytes)`, file);
    const json = Buffer.alloc(headerLength);
    readSync(fd, json, 0, headerLength, 8);
    return parseHeader(file, json, headerLength, fileLength);
  } finally {
    closeSync(fd);
  }
}

function parseHeader(file: string, json: Buffer, headerLength: number, fileLength: number): SafetensorsHeader {
  let raw: unknown;
  try {
    raw = JSON.parse(json.toString('utf8'));
  } catch (error) {
    throw new DataError(`${file}: the safetensors header is not valid JSON (${(error as Error).message})`, file);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new DataError(`${file}: the safetensors header is not a JSON object`, file);
  const dataStart = 8 + headerLength;
  const dataLength = fileLength - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `${file}: tensor "${name}"`;
    if (!entry || typeof entry !== 'object') throw new DataError(`${where} has no description object`, file);
    if (typeof entry.dtype !== 'string' || !(entry.dtype in DTYPE_SIZES)) {
      throw new DataError(`${where} has unknown dtype ${JSON.stringify(entry.dtype)} (known: ${Object.keys(DTYPE_SIZES).join(', ')})`, file);
    }
    if (!Array.isArray(entry.shape) || entry.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new DataError(`${where} has an invalid shape ${JSON.stringify(entry.shape)}`, file);
    }
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isSafeInteger(o) || o < 0) || offsets[0] > offsets[1]) {
      throw new DataError(`${where} has invalid data_offsets ${JSON.stringify(offsets)}`, file);
    }
    const [begin, end] = offsets as [number, number];
    const shape = entry.shape as number[];
    const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_SIZES[entry.dtype]!;
    if (end - begin !== expected) {
      throw new DataError(`${where}: ${entry.dtype} [${shape.join(', ')}] needs ${expected} bytes, but its data_offsets [${begin}, ${end}] span ${end - begin}`, file);
    }
    if (end > dataLength) {
      throw new DataError(`${where} ends at byte ${end} of the data section, but the file holds only ${dataLength} data bytes (truncated file?)`, file);
    }
    tensors.set(name, { dtype: entry.dtype, shape, offsets: [begin, end] });
  }
  const sorted = [...tensors.entries()].sort((a, b) => a[1].offsets[0] - b[1].offsets[0]);
  for (let i = 1; i < sorted.length; i++) {
    const [prevName, prev] = sorted[i - 1]!;
    const [name, cur] = sorted[i]!;
    if (cur.offsets[0] < prev.offsets[1]) throw new DataError(`${file}: tensors "${prevName}" and "${name}" overlap in the data section`, file);
  }
  return { file, headerLength, dataStart, fileLength, metadata, tensors };
}

/**
 * Reads every floating-point tensor of a safetensors file as float32 (F32 as is, F16 through
 * core's binary16 converter, BF16 by shifting its bits into the high half of a float32).
 * Tensors of other dtypes are skipped unless `strict`, which rejects them.
 */
export function readSafetensors(file: string, options: { strict?: boolean; names?: (name: string) => boolean } = {}): Map<string, FloatTensor> {
  const header = readSafetensorsHeader(file);
  const out = new Map<string, FloatTensor>();
  const fd = openSync(file, 'r');
  try {
    for (const [name, entry] of header.tensors) {
      if (options.names && !options.names(name)) continue;
      if (!(FLOAT_DTYPES as readonly string[]).includes(entry.dtype)) {
        if (options.strict) throw new DataError(`${file}: tensor "${name}" has dtype ${entry.dtype}; only ${FLOAT_DTYPES.join(', ')} are supported`, file);
        continue;
      }
      const [begin, end] = entry.offsets;
      const bytes = Buffer.alloc(end - begin);
      const got = readSync(fd, bytes, 0, bytes.length, header.dataStart + begin);
      if (got !== bytes.length) throw new DataError(`${file}: tensor "${name}" is truncated (${got} of ${bytes.length} bytes)`, file);
      out.set(name, { dtype: entry.dtype as FloatDtype, shape: entry.shape, values: decode(bytes, entry.dtype as FloatDtype) });
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

const littleEndianHost = endianness() === 'LE';

/** Little-endian bytes of one dtype to float32 values. */
export function decode(bytes: Uint8Array, dtype: FloatDtype): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    const n = bytes.byteLength / 4;
    if (littleEndianHost) return new Float32Array(Uint8Array.from(bytes).buffer, 0, n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  const n = bytes.byteLength / 2;
  const bits = new Uint16Array(n);
  for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, true);
  if (dtype === 'F16') return fromFloat16(bits);
  const out = new Float32Array(n);
  const u32 = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) u32[i] = bits[i]! << 16;
  return out;
}

/** float32 values to little-endian bytes of one dtype (BF16 rounds to nearest even). */
export function encode(values: Float32Array, dtype: FloatDtype): Uint8Array {
  if (dtype === 'F32') {
    const out = new Uint8Array(values.length * 4);
    const view = new DataView(out.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
    return out;
  }
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  if (dtype === 'F16') {
    const bits = toFloat16(values);
    for (let i = 0; i < bits.length; i++) view.setUint16(i * 2, bits[i]!, true);
    return out;
  }
  const u32 = new Uint32Array(Float32Array.from(values).buffer);
  for (let i = 0; i < values.length; i++) {
    const x = u32[i]!;
    const isNaN = (x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0;
    const rounded = isNaN ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    view.setUint16(i * 2, rounded & 0xffff, true);
  }
  return out;
}

/** A tensor to write. */
export interface TensorToWrite {
  shape: number[];
  values: Float32Array;
  /** Stored dtype (default: the writer's). */
  dtype?: FloatDtype;
}

/** The bytes of a safetensors file holding `tensors` (names sorted, data packed in that order). */
export function serializeSafetensors(tensors: Record<string, TensorToWrite>, options: { dtype?: FloatDtype; metadata?: Record<string, string> } = {}): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const dtype = t.dtype ?? options.dtype ?? 'F32';
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.values.length) throw new Error(`tensor "${name}": shape [${t.shape.join(', ')}] needs ${size} values, got ${t.values.length}`);
    const bytes = encode(t.values, dtype);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  // Pad the header with spaces so the data section starts 8-byte aligned (as the reference writer does).
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Writes a safetensors file atomically (temporary file + rename). */
export function writeSafetensors(file: string, tensors: Record<string, TensorToWrite>, options: { dtype?: FloatDtype; metadata?: Record<string, string> } = {}): void {
  writeFileAtomic(file, serializeSafetensors(tensors, options));
}
