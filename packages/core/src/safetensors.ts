import { DataError } from './errors.js';
import { fromHalfBits, toFloat16 } from './float16.js';

/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of
 * JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": {..} }`, then the
 * raw little-endian tensor bytes. Readable by every other tool that speaks it.
 */

export type SafetensorsDtype =
  | 'F64' | 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2'
  | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

/** Bytes per element of every dtype the format defines. */
export const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

/** Largest header accepted (the reference implementation's limit). */
const MAX_HEADER_BYTES = 100_000_000;

export interface StoredTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Raw little-endian bytes of the tensor. */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

/** A stored tensor from a typed array (F32: Float32Array, F16/U16: Uint16Array, U8: Uint8Array, I32: Int32Array). */
export function storedTensor(dtype: SafetensorsDtype, shape: number[], data: Float32Array | Uint16Array | Uint8Array | Int32Array): StoredTensor {
  const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.byteLength !== expected) throw new Error(`tensor of dtype ${dtype} and shape [${shape.join(', ')}] needs ${expected} bytes, got ${bytes.byteLength}`);
  return { dtype, shape, bytes };
}

/** A float tensor stored as F32, F16 (round to nearest even) or BF16 (round to nearest even). */
export function floatTensor(dtype: 'F32' | 'F16' | 'BF16', shape: number[], values: Float32Array): StoredTensor {
  if (dtype === 'F32') return storedTensor('F32', shape, Float32Array.from(values));
  if (dtype === 'F16') return storedTensor('F16', shape, toFloat16(values));
  const bits = new Uint32Array(Float32Array.from(values).buffer);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = bits[i]!;
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) out[i] = (x >>> 16) | 0x40; // NaN stays NaN
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return storedTensor('BF16', shape, out);
}

/** The values of a stored F32 tensor (also converts F16 and BF16). */
export function asFloat32(t: StoredTensor): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const out = new Float32Array(n);
  if (t.dtype === 'F32') {
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (t.dtype === 'BF16') {
    const u32 = new Uint32Array(1);
    const f32 = new Float32Array(u32.buffer);
    for (let i = 0; i < n; i++) {
      u32[0] = view.getUint16(2 * i, true) << 16;
      out[i] = f32[0]!;
    }
  } else if (t.dtype === 'F16') {
    for (let i = 0; i < n; i++) out[i] = fromHalfBits(view.getUint16(2 * i, true));
  } else {
    throw new Error(`cannot read a ${t.dtype} tensor as float32`);
  }
  return out;
}

/** The values of a stored U16 or F16 tensor as raw 16-bit words. */
export function asUint16(t: StoredTensor): Uint16Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getUint16(2 * i, true);
  return out;
}

/** Serialises tensors (in the given order) and metadata into safetensors bytes. */
export function encodeSafetensors(tensors: ReadonlyMap<string, StoredTensor> | Record<string, StoredTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.byteLength] };
    offset += t.bytes.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  // TextEncoder, not Buffer: encoding and parsing also run in a web page.
  const utf8 = new TextEncoder();
  const pad = (8 - ((8 + utf8.encode(json).length) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = utf8.encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [, t] of entries) {
    out.set(t.bytes, at);
    at += t.bytes.byteLength;
  }
  return out;
}

/**
 * Parses safetensors bytes. Every inconsistency (header longer than the file, bad JSON, unknown
 * dtype, offsets outside the data or not matching dtype x shape, data length different from what
 * the header describes) is a DataError naming `file`.
 */
export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  const fail = (what: string): never => {
    throw new DataError(`${file}: not a valid safetensors file: ${what}`, file);
  };
  if (bytes.byteLength < 8) fail(`${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES) fail(`the header claims ${headerLength} bytes, more than the ${MAX_HEADER_BYTES} the format allows`);
  if (headerLength > bytes.byteLength - 8) fail(`the header claims ${headerLength} bytes but the file has ${bytes.byteLength - 8} after the length field (truncated?)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  } catch (error) {
    return fail(`header is not JSON (${(error as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const tensors = new Map<string, StoredTensor>();
  let metadata: Record<string, string> = {};
  let maxEnd = 0;
  const ranges: { name: string; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!value || typeof value !== 'object' || Array.isArray(value) || !Object.values(value).every((m) => typeof m === 'string')) fail('__metadata__ is not an object of strings');
      metadata = value as Record<string, string>;
      continue;
    }
    const v = value as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    if (!v || typeof v !== 'object' || typeof v.dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, v.dtype)) fail(`tensor "${name}" has unknown dtype ${JSON.stringify(v?.dtype)}`);
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor "${name}" has an invalid shape ${JSON.stringify(v.shape)}`);
    const offsets = v.data_offsets as number[];
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[1]! < offsets[0]!) {
      fail(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const dtype = v.dtype as SafetensorsDtype;
    const shape = v.shape as number[];
    const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (offsets[1]! - offsets[0]! !== expected) fail(`tensor "${name}" (${dtype} [${shape.join(', ')}]) needs ${expected} bytes but its offsets span ${offsets[1]! - offsets[0]!}`);
    if (offsets[1]! > dataLength) fail(`tensor "${name}" ends at byte ${offsets[1]} of the data but the file holds only ${dataLength} data bytes (truncated?)`);
    maxEnd = Math.max(maxEnd, offsets[1]!);
    ranges.push({ name, begin: offsets[0]!, end: offsets[1]! });
    tensors.set(name, { dtype, shape, bytes: bytes.subarray(dataStart + offsets[0]!, dataStart + offsets[1]!) });
  }
  ranges.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i]!.begin < ranges[i - 1]!.end) fail(`tensors "${ranges[i - 1]!.name}" and "${ranges[i]!.name}" overlap in the data section`);
  }
  if (maxEnd !== dataLength) fail(`the header describes ${maxEnd} data bytes but the file holds ${dataLength}`);
  return { tensors, metadata };
}
