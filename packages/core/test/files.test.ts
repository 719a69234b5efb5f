import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFileExclusive, writeFileAtomic, writeJsonAtomic } from '@supermask/core';

// Spies on the fs calls of core's durable writes (core's sources import node:fs, mocked here).
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return { ...real, fsyncSync: vi.fn(real.fsyncSync), writeSync: vi.fn(real.writeSync), renameSync: vi.fn(real.renameSync) };
});

const tmp = () => mkdtempSync(join(tmpdir(), 'supermask-files-'));

// mockReset restores the real implementation given to vi.fn.
afterEach(() => {
  for (const f of [fs.fsyncSync, fs.writeSync, fs.renameSync]) vi.mocked(f).mockReset();
});

describe('durable writes', () => {
  it('fsyncs the file before the rename and the directory after it', () => {
    const dir = tmp();
    const file = join(dir, 'sub', 'results.json');
    const order: string[] = [];
    vi.mocked(fs.fsyncSync).mockImplementation((fd) => {
      order.push(`fsync ${fs.fstatSync(fd).isDirectory() ? 'dir' : 'file'}`);
    });
    vi.mocked(fs.renameSync).mockImplementationOnce((from, to) => {
      order.push('rename');
      fs.renameSync(from, to);
    });
    writeJsonAtomic(file, { a: 1 });
    expect(order).toEqual(['fsync file', 'rename', 'fsync dir']);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ a: 1 });
    expect(readdirSync(join(dir, 'sub'))).toEqual(['results.json']);
  });

  it('leaves the old file and no temporary file when the write fails', () => {
    const dir = tmp();
    const file = join(dir, 'checkpoint.json');
    writeFileSync(file, 'old');
    vi.mocked(fs.writeSync).mockImplementationOnce(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    });
    expect(() => writeFileAtomic(file, 'new content')).toThrow(/ENOSPC/);
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['checkpoint.json']);
  });

  it('leaves no temporary file when the rename fails', () => {
    const dir = tmp();
    const target = join(dir, 'taken');
    mkdirSync(join(target, 'inside'), { recursive: true });
    expect(() => writeFileAtomic(target, 'x')).toThrow();
    expect(readdirSync(dir)).toEqual(['taken']);
  });

  it('creates a file exclusively, complete, once', () => {
    const dir = tmp();
    const file = join(dir, 'lock');
    expect(createFileExclusive(file, 'first')).toBe(true);
    expect(vi.mocked(fs.fsyncSync).mock.calls.length).toBe(2);
    expect(createFileExclusive(file, 'second')).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe('first');
    expect(readdirSync(dir)).toEqual(['lock']);
  });
});
