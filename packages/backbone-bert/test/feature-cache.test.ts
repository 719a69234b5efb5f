import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { selectBackend } from '@supermask/core';
import { BertTextEncoder, clearMemoryCache, FeatureCache, memoryCacheUsage, modelFingerprint } from '@supermask/backbone-bert';

const TINY = fileURLToPath(new URL('./fixtures/tiny-bert', import.meta.url));
const texts = ['the quick brown fox', 'spam spam spam', 'masks select a subnetwork', 'old tasks stay learned'];
const dir = mkdtempSync(join(tmpdir(), 'feature-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function walk(d: string): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
}

describe('feature cache', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });
  beforeEach(() => clearMemoryCache());

  it('a second use hits the memory cache: BERT runs once per text', async () => {
    const encoder = await BertTextEncoder.load({ model: TINY, max_length: 10, output: 'features' });
    const first = encoder.encode(texts);
    expect(encoder.stats.computed).toBe(4);
    const second = encoder.encode([...texts].reverse());
    expect(encoder.stats.computed).toBe(4);
    expect(encoder.stats.memoryHits).toBe(4);
    expect(Array.from(second.subarray(0, 320))).toEqual(Array.from(first.subarray(3 * 320, 4 * 320)));
    // Another encoder of the same model and length shares the process-wide store.
    const other = await BertTextEncoder.load({ model: TINY, max_length: 10, output: 'features' });
    other.encode(texts.slice(0, 2));
    expect(other.stats).toMatchObject({ computed: 0, memoryHits: 2 });
    expect(memoryCacheUsage().entries).toBe(4);
    encoder.dispose();
    other.dispose();
  });

  it('round-trips through the on-disk cache (atomic files), and ignores a corrupt entry', async () => {
    const cacheDir = join(dir, 'disk');
    const a = await BertTextEncoder.load({ model: TINY, max_length: 10, output: 'features', cache_dir: cacheDir });
    const computed = a.encode(texts);
    expect(a.stats).toMatchObject({ computed: 4, writes: 4 });
    const files = walk(cacheDir);
    expect(files).toHaveLength(4);
    expect(files.every((f) => f.endsWith('.f32') && f.includes(`${modelFingerprint(TINY).slice(0, 16)}-L10`))).toBe(true);
    clearMemoryCache();
    const b = await BertTextEncoder.load({ model: TINY, max_length: 10, output: 'features', cache_dir: cacheDir });
    const read = b.encode(texts);
    expect(b.stats).toMatchObject({ computed: 0, diskHits: 4 });
    expect(Array.from(read)).toEqual(Array.from(computed));
    // A truncated entry is a miss, recomputed and rewritten.
    writeFileSync(files[0]!, Buffer.alloc(10));
    clearMemoryCache();
    const c = await BertTextEncoder.load({ model: TINY, max_length: 10, output: 'features', cache_dir: cacheDir, memory_cache_mb: 0 });
    expect(Array.from(c.encode(texts))).toEqual(Array.from(computed));
    expect(c.stats).toMatchObject({ computed: 1, diskHits: 3, writes: 1 });
    a.dispose();
    b.dispose();
    c.dispose();
  });

  it('the key changes with the max length, the model and the text pair', () => {
    const base = { model: 'abc', maxLength: 16, entrySize: 16 * 32 };
    const k = new FeatureCache(base).key('hello');
    expect(new FeatureCache({ ...base, maxLength: 32 }).key('hello')).not.toBe(k);
    expect(new FeatureCache({ ...base, model: 'abd' }).key('hello')).not.toBe(k);
    expect(new FeatureCache(base).key('hello', 'world')).not.toBe(k);
    expect(new FeatureCache(base).key('hello')).toBe(k);
  });

  it('different max lengths never read each other entries', async () => {
    const e10 = await BertTextEncoder.load({ model: TINY, max_length: 10, output: 'features' });
    const e12 = await BertTextEncoder.load({ model: TINY, max_length: 12, output: 'features' });
    e10.encode(texts);
    const out = e12.encode(texts);
    expect(e12.stats).toMatchObject({ computed: 4, memoryHits: 0 });
    expect(out.length).toBe(4 * 12 * 32);
    e10.dispose();
    e12.dispose();
  });
});
