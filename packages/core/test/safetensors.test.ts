import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  asFloat32,
  asUint16,
  DataError,
  encodeSafetensors,
  floatTensor,
  packBits,
  parseSafetensors,
  readSafetensors,
  storedTensor,
  toFloat16,
  unpackBits,
  writeSafetensors,
} from '@supermask/core';

const dir = () => mkdtempSync(join(tmpdir(), 'supermask-st-'));

describe('safetensors', () => {
  it('round-trips F32, F16, U16 and U8 tensors with metadata', () => {
    const file = join(dir(), 'x.safetensors');
    const w = Float32Array.from([1.5, -2, 3.25, 0, 7, 8]);
    writeSafetensors(file, {
      'layer/w': storedTensor('F32', [2, 3], w),
      half: storedTensor('F16', [3], toFloat16(Float32Array.from([0.5, -1, 2]))),
      owners: storedTensor('U16', [2], Uint16Array.from([0, 65535])),
      bits: storedTensor('U8', [1], Uint8Array.from([5])),
    }, { note: 'hi' });
    const { tensors, metadata } = readSafetensors(file);
    expect(metadata).toEqual({ note: 'hi' });
    expect(asFloat32(tensors.get('layer/w')!)).toEqual(w);
    expect(tensors.get('layer/w')!.shape).toEqual([2, 3]);
    expect(Array.from(asFloat32(tensors.get('half')!))).toEqual([0.5, -1, 2]);
    expect(Array.from(asUint16(tensors.get('owners')!))).toEqual([0, 65535]);
    expect(Array.from(tensors.get('bits')!.bytes)).toEqual([5]);
    // The layout other tools read: 8-byte little-endian length, JSON header, data 8-byte aligned.
    const bytes = readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    expect(header['layer/w']).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
  });

  it('reads BF16', () => {
    const bf16 = Uint16Array.from([0x3f80, 0xc000]); // 1.0, -2.0
    const parsed = parseSafetensors(encodeSafetensors({ b: storedTensor('BF16', [2], bf16) }), 'mem');
    expect(Array.from(asFloat32(parsed.tensors.get('b')!))).toEqual([1, -2]);
  });

  it('rejects truncated files and headers that disagree with the length, naming the file', () => {
    const d = dir();
    const file = join(d, 'bad.safetensors');
    const bytes = encodeSafetensors({ w: storedTensor('F32', [4], Float32Array.from([1, 2, 3, 4])) });
    writeFileSync(file, bytes.subarray(0, bytes.length - 3));
    expect(() => readSafetensors(file)).toThrow(DataError);
    expect(() => readSafetensors(file)).toThrow(new RegExp(`${file}.*truncated`));
    writeFileSync(file, bytes.subarray(0, 20));
    expect(() => readSafetensors(file)).toThrow(/header claims \d+ bytes/);
    writeFileSync(file, Buffer.concat([bytes, Buffer.from([0, 0, 0, 0])]));
    expect(() => readSafetensors(file)).toThrow(/describes 16 data bytes but the file holds 20/);
    expect(() => readSafetensors(join(d, 'absent.safetensors'))).toThrow(/absent\.safetensors: cannot open \(no such file\)/);
  });

  it('packs masks at one bit per weight', () => {
    const mask = Float32Array.from({ length: 19 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const bits = packBits(mask);
    expect(bits.length).toBe(3);
    expect(unpackBits(bits, 19)).toEqual(mask);
    expect(() => unpackBits(bits, 30)).toThrow(/needs 4 bytes/);
  });
});

describe('safetensors validation', () => {
  const d = dir();
  /** A file with a hand-written header and `dataBytes` zero bytes of data. */
  const rawFile = (name: string, header: unknown, dataBytes: number) => {
    const json = Buffer.from(JSON.stringify(header));
    const out = Buffer.alloc(8 + json.length + dataBytes);
    out.writeBigUInt64LE(BigInt(json.length), 0);
    json.copy(out, 8);
    const file = join(d, name);
    writeFileSync(file, out);
    return file;
  };

  it('rejects offsets that disagree with shape and dtype, overlapping tensors, unknown dtypes and bad JSON', () => {
    expect(() => readSafetensors(rawFile('size.st', { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8))).toThrow(/F32 \[3\]\) needs 12 bytes but its offsets span 8/);
    expect(() => readSafetensors(rawFile('overlap.st', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F16', shape: [2], data_offsets: [4, 8] } }, 8))).toThrow(/"a" and "b" overlap/);
    expect(() => readSafetensors(rawFile('dtype.st', { a: { dtype: 'Q4', shape: [2], data_offsets: [0, 1] } }, 1))).toThrow(/unknown dtype "Q4"/);
    const file = join(d, 'json.st');
    const out = Buffer.alloc(8 + 5);
    out.writeBigUInt64LE(5n, 0);
    out.write('{"a":', 8);
    writeFileSync(file, out);
    expect(() => readSafetensors(file)).toThrow(new RegExp(`${file}: not a valid safetensors file: header is not JSON`));
  });

  it('stores floats as F16 and BF16 to their precision', () => {
    const values = Float32Array.from([0, 1, -2.5, 3.14159, 65504, 1e-3, 123456.789]);
    const parsed = parseSafetensors(encodeSafetensors({ h: floatTensor('F16', [7], values), b: floatTensor('BF16', [7], values), f: floatTensor('F32', [7], values) }), 'mem');
    const h = asFloat32(parsed.tensors.get('h')!);
    const b = asFloat32(parsed.tensors.get('b')!);
    expect(asFloat32(parsed.tensors.get('f')!)).toEqual(values);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (Math.abs(v) > 65504) expect(h[i]).toBe(Infinity);
      else expect(Math.abs(h[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-3);
      expect(Math.abs(b[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 4e-3);
    }
    expect(Array.from(asFloat32(floatTensor('BF16', [4], Float32Array.from([1, -2, 0.5, 3]))))).toEqual([1, -2, 0.5, 3]);
  });
});

describe('safetensors files that are not files', () => {
  it('a directory in place of the tensors file is a DataError naming it', () => {
    const file = join(dir(), 'checkpoint-task-0001.safetensors');
    mkdirSync(file);
    expect(() => readSafetensors(file)).toThrow(DataError);
    expect(() => readSafetensors(file)).toThrow(`${file}: cannot read (not a regular file)`);
  });
});
