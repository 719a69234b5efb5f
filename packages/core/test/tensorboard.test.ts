import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32c, TensorBoardWriter } from '@supermask/core';
import { crc32cBitwise, decode, readRecords } from './tfrecord-reader.js';

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
