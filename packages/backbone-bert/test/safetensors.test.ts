import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '@supermask/core';
import { decode, encode, readSafetensors, readSafetensorsHeader, serializeSafetensors } from '@supermask/backbone-bert';

const dir = mkdtempSync(join(tmpdir(), 'safetensors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file with a hand-written header (8-byte length + JSON) and `data` bytes. */
function rawFile(name: string, header: unknown, dataBytes: number): string {
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + dataBytes);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  const file = join(dir, name);
  writeFileSync(file, out);
  return file;
}

describe('safetensors', () => {
  const values = Float32Array.from([0, 1, -2.5, 3.14159, 65504, 1e-3, -1e-8, 123456.789]);

  it('round-trips F32 exactly, F16 and BF16 to their precision', () => {
    const file = join(dir, 'mixed.safetensors');
    writeFileSync(
      file,
      serializeSafetensors(
        {
          a: { shape: [2, 4], values, dtype: 'F32' },
          b: { shape: [8], values, dtype: 'F16' },
          c: { shape: [4, 2], values, dtype: 'BF16' },
        },
        { metadata: { format: 'pt' } },
      ),
    );
    const header = readSafetensorsHeader(file);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect((8 + header.headerLength) % 8).toBe(0);
    const t = readSafetensors(file);
    expect(Array.from(t.get('a')!.values)).toEqual(Array.from(values));
    expect(t.get('a')!.shape).toEqual([2, 4]);
    const f16 = t.get('b')!.values;
    const bf16 = t.get('c')!.values;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (Math.abs(v) > 1e-4) {
        // Beyond float16's range (65504) the value becomes infinite.
        if (Math.abs(v) > 65504) expect(f16[i]).toBe(Infinity);
        else expect(Math.abs(f16[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-3);
        expect(Math.abs(bf16[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 8e-3);
      }
    }
    // BF16 is the high half of float32: exact for values with a short mantissa.
    expect(Array.from(decode(encode(Float32Array.from([1, -2, 0.5, 3]), 'BF16'), 'BF16'))).toEqual([1, -2, 0.5, 3]);
    expect(Array.from(decode(encode(Float32Array.from([1, -2, 0.5, 65504]), 'F16'), 'F16'))).toEqual([1, -2, 0.5, 65504]);
  });

  it('rejects a file whose header length exceeds the file, naming it', () => {
    const file = join(dir, 'short.safetensors');
    const bytes = serializeSafetensors({ a: { shape: [4], values: values.subarray(0, 4) } });
    writeFileSync(file, bytes.subarray(0, 20));
    expect(() => readSafetensorsHeader(file)).toThrow(DataError);
    expect(() => readSafetensorsHeader(file)).toThrow(`${file} is truncated or not a safetensors file`);
    writeFileSync(file, Buffer.from([1, 2, 3]));
    expect(() => readSafetensorsHeader(file)).toThrow(/shorter than the 8-byte header length/);
  });

  it('rejects a truncated data section, naming the file and the tensor', () => {
    const file = join(dir, 'cut.safetensors');
    const bytes = serializeSafetensors({ a: { shape: [4], values: values.subarray(0, 4) }, b: { shape: [4], values: values.subarray(4) } });
    writeFileSync(file, bytes.subarray(0, bytes.length - 3));
    expect(() => readSafetensors(file)).toThrow(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: tensor "b" ends at byte 32 of the data section, but the file holds only 29`));
  });

  it('rejects offsets that disagree with shape and dtype, overlaps, unknown dtypes and bad JSON', () => {
    expect(() => readSafetensorsHeader(rawFile('size.st', { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8))).toThrow(/F32 \[3\] needs 12 bytes, but its data_offsets \[0, 8\] span 8/);
    expect(() =>
      readSafetensorsHeader(rawFile('overlap.st', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F16', shape: [2], data_offsets: [4, 8] } }, 8)),
    ).toThrow(/overlap/);
    expect(() => readSafetensorsHeader(rawFile('dtype.st', { a: { dtype: 'Q4', shape: [2], data_offsets: [0, 1] } }, 1))).toThrow(/unknown dtype "Q4"/);
    const file = join(dir, 'json.st');
    const out = Buffer.alloc(8 + 5);
    out.writeBigUInt64LE(5n, 0);
    out.write('{"a":', 8);
    writeFileSync(file, out);
    expect(() => readSafetensorsHeader(file)).toThrow(`${file}: the safetensors header is not valid JSON`);
    // Integer tensors are skipped unless strict.
    const ints = rawFile('ints.st', { ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] }, w: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, 12);
    expect([...readSafetensors(ints).keys()]).toEqual(['w']);
    expect(() => readSafetensors(ints, { strict: true })).toThrow(/"ids" has dtype I64/);
  });
});
