import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32c, TensorBoardWriter } from '@supermask/core';

/** CRC-32C bit by bit (no table): an independent check of the writer's checksums. */
function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
const mask = (c: number) => ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;

interface Field {
  no: number;
  wire: number;
  value: bigint | number | Uint8Array;
}

/** A minimal protobuf decoder: varints, 64-bit, length-delimited and 32-bit fields. */
function decode(bytes: Uint8Array): Field[] {
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
function readRecords(file: string): Uint8Array[] {
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

describe('TensorBoard event files', () => {
  it('computes CRC-32C (the standard check value of "123456789" is 0xe3069283)', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(crc32cBitwise(new Uint8Array(32)));
  });

  it('writes records an independent reader parses, with valid CRCs and the scalar values', () => {
    const dir = mkdtempSync(join(tmpdir(), 'supermask-tb-'));
    const writer = new TensorBoardWriter(join(dir, 'tb'), new Date(1_700_000_000_000));
    const scalars = [
      { tag: 'task1/mask/loss', value: 0.6931471805599453, step: 1 },
      { tag: 'task1/mask/train_accuracy', value: 0.8125, step: 1 },
      { tag: 'task2/weight/loss', value: 1e-7, step: 12345678901 },
    ];
    for (const s of scalars) writer.scalar(s.tag, s.value, s.step, 1_700_000_001.5);
    writer.close();
    expect(() => writer.scalar('x', 1, 1)).toThrow(/closed/);
    const files = readdirSync(join(dir, 'tb'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^events\.out\.tfevents\.1700000000\./);

    const records = readRecords(join(dir, 'tb', files[0]!)).map(decode);
    expect(records).toHaveLength(1 + scalars.length);
    const first = records[0]!;
    expect(first.find((f) => f.no === 1)!.value).toBe(1_700_000_000);
    expect(new TextDecoder().decode(first.find((f) => f.no === 3)!.value as Uint8Array)).toBe('brain.Event:2');
    records.slice(1).forEach((event, k) => {
      expect(event.find((f) => f.no === 1)!.value).toBe(1_700_000_001.5);
      expect(event.find((f) => f.no === 2)!.value).toBe(BigInt(scalars[k]!.step));
      const summary = decode(event.find((f) => f.no === 5)!.value as Uint8Array);
      const value = decode(summary.find((f) => f.no === 1)!.value as Uint8Array);
      expect(new TextDecoder().decode(value.find((f) => f.no === 1)!.value as Uint8Array)).toBe(scalars[k]!.tag);
      expect(value.find((f) => f.no === 2)).toMatchObject({ wire: 5, value: Math.fround(scalars[k]!.value) });
    });
  });
});
