import { webcrypto } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('RunFiles (the run directory behind the Node entry)', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it('is installed by the Node entry and missing without it, with an error naming the Node entry', async () => {
    const core = await import('@supermask/core');
    expect(() => core.runFiles()).not.toThrow();
    vi.resetModules();
    // run-files.ts loaded on its own, as the browser entry's graph holds it: nothing installed.
    const alone = await import('../src/run-files.js');
    expect(() => alone.runFiles()).toThrow(/needs the Node entry of @supermask\/core/);
  });

  it('makes UUID v4 run ids, with randomUUID and without it (a page served over plain http)', async () => {
    const { newRunId } = await import('../src/run-files.js');
    const ids = new Set(Array.from({ length: 50 }, () => newRunId()));
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(UUID_V4);
    vi.stubGlobal('crypto', { getRandomValues: <T extends ArrayBufferView>(a: T) => webcrypto.getRandomValues(a as unknown as Uint8Array) as unknown as T });
    const fallback = new Set(Array.from({ length: 50 }, () => newRunId()));
    expect(fallback.size).toBe(50);
    for (const id of fallback) expect(id).toMatch(UUID_V4);
  });
});
