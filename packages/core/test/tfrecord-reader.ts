import { readFileSync } from 'node:fs';
import { expect } from 'vitest';

/*
 * An independent reader of TensorBoard event files for the tests: its own bitwise CRC-32C and
 * protobuf decoder, sharing no code with the writer (tensorboard.ts).
 */

/** CRC-32C bit by bit (no table): an independent check of the writer's checksums. */
export function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
const mask = (c: number) => ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;

export interface Field {
  no: number;
  wire: number;
  value: bigint | number | Uint8Array;
}

/** A minimal protobuf decoder: varints, 64-bit, length-delimited and 32-bit fields. */
export function decode(bytes: Uint8Array): Field[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Field[] = [];
  let i = 0;
  const varint = () => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = bytes[i++]!;
      v |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (!(b & 0x80)) return v;
    }
  };
  while (i < bytes.length) {
    const key = Number(varint());
    const no = key >> 3;
    const wire = key & 7;
    if (wire === 0) fields.push({ no, wire, value: varint() });
    else if (wire === 1) fields.push({ no, wire, value: view.getFloat64((i += 8) - 8, true) });
    else if (wire === 5) fields.push({ no, wire, value: view.getFloat32((i += 4) - 4, true) });
    else if (wire === 2) {
      const n = Number(varint());
      fields.push({ no, wire, value: bytes.subarray(i, (i += n)) });
    } else throw new Error(`wire type ${wire}`);
  }
  return fields;
}

/** Reads a TFRecord file, checking both CRCs of every record. */
export function readRecords(file: string): Uint8Array[] {
  const bytes = new Uint8Array(readFileSync(file));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    const length = Number(view.getBigUint64(at, true));
    expect(view.getUint32(at + 8, true)).toBe(mask(crc32cBitwise(bytes.subarray(at, at + 8))));
    const data = bytes.subarray(at + 12, at + 12 + length);
    expect(view.getUint32(at + 12 + length, true)).toBe(mask(crc32cBitwise(data)));
    records.push(data);
    at += 12 + length + 4;
  }
  return records;
}

/** The scalar summaries of an event file (tag, step, float32 value), in file order, CRCs checked. */
export function readScalars(file: string): { tag: string; step: number; value: number }[] {
  const text = new TextDecoder();
  return readRecords(file)
    .map(decode)
    .filter((event) => event.some((f) => f.no === 5))
    .map((event) => {
      const summary = decode(event.find((f) => f.no === 5)!.value as Uint8Array);
      const value = decode(summary.find((f) => f.no === 1)!.value as Uint8Array);
      return {
        tag: text.decode(value.find((f) => f.no === 1)!.value as Uint8Array),
        step: Number(event.find((f) => f.no === 2)!.value),
        value: value.find((f) => f.no === 2 && f.wire === 5)!.value as number,
      };
    });
}
