import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataError, Registry } from '@supermask/core';
import { EMBEDDED_FASHION_MNIST_DIR, FASHION_MNIST_SCHEMA, encodeIdx, fashionMnistDefinition, IdxDatasetLoader, FASHION_MNIST, readIdx } from '@supermask/datasets';
import { FetchedFashionMnistLoader, parseIdxBytes, registerBrowser, type Fetcher } from '@supermask/datasets/browser';

/** Serves the embedded subset's files from disk under http://page.test/data/, 404 for anything else. */
const diskFetcher: Fetcher = async (url) => {
  const name = url.replace('http://page.test/data/', '');
  try {
    const bytes = readFileSync(join(EMBEDDED_FASHION_MNIST_DIR, name));
    return { ok: true, status: 200, arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
  } catch {
    return { ok: false, status: 404, arrayBuffer: async () => new ArrayBuffer(0) };
  }
};

async function rejection(promise: Promise<unknown>): Promise<DataError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DataError);
  return error as DataError;
}

describe('the browser entry of @supermask/datasets', () => {
  it('decodes gzipped IDX bytes (DecompressionStream) to what the Node reader (node:zlib) gives', async () => {
    const file = join(EMBEDDED_FASHION_MNIST_DIR, 'train-labels-idx1-ubyte.gz');
    const browser = await parseIdxBytes(new Uint8Array(readFileSync(file)), file);
    const node = readIdx(file);
    expect(browser.dims).toEqual(node.dims);
    expect(browser.type).toBe(node.type);
    expect(Buffer.compare(Buffer.from(browser.data as Uint8Array), Buffer.from(node.data as Uint8Array))).toBe(0);
    const raw = await parseIdxBytes(encodeIdx([3], new Uint8Array([7, 8, 9])), 'raw');
    expect(Array.from(raw.data)).toEqual([7, 8, 9]);
  });

  it('loads the fetched embedded subset into exactly the dataset the Node loader reads from disk', async () => {
    const fetched = await new FetchedFashionMnistLoader('http://page.test/data', { source: 'embedded' }, diskFetcher).load();
    const disk = await new IdxDatasetLoader(FASHION_MNIST, { source: 'embedded' }).load();
    const { train, test, ...facts } = fetched;
    const { train: diskTrain, test: diskTest, ...diskFacts } = disk;
    expect(facts).toEqual(diskFacts);
    for (const [a, b] of [
      [train, diskTrain],
      [test, diskTest],
    ] as const) {
      expect(a.n).toBe(b.n);
      expect(Buffer.compare(Buffer.from(a.x.buffer), Buffer.from(b.x.buffer))).toBe(0);
      expect(Array.from(a.y)).toEqual(Array.from(b.y));
    }
  });

  it('registers fashion-mnist with the Node schema, and names the URL or the field of what cannot load', async () => {
    const registry = new Registry();
    registerBrowser(registry, { embeddedUrl: 'http://page.test/data/', fetcher: diskFetcher });
    expect(registry.get('dataset', 'fashion-mnist').schema).toEqual(FASHION_MNIST_SCHEMA);
    expect(registry.get('dataset', 'fashion-mnist').schema).toEqual(fashionMnistDefinition.schema);
    expect(registry.get('stream', 'split').id).toBe('split');

    const missing = await rejection(new FetchedFashionMnistLoader('http://page.test/nothing', { source: 'embedded' }, diskFetcher).load());
    expect(missing.message).toMatch(/http:\/\/page\.test\/nothing\/[a-z0-9-]+\.gz: HTTP 404/);
    const full = await rejection(new FetchedFashionMnistLoader('http://page.test/data', { source: 'full' }, diskFetcher).load());
    expect(full.message).toContain('dataset.options.source "full"');
    const truncated = gzipSync(encodeIdx([4], new Uint8Array([1, 2, 3, 4]))).subarray(0, 12);
    const corrupt = await rejection(parseIdxBytes(truncated, 'cut.gz'));
    expect(corrupt.message).toContain('cut.gz: corrupt or truncated gzip data');
  });
});
