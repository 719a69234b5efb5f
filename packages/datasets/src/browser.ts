/**
 * Browser entry of @supermask/datasets (`@supermask/datasets/browser`): the IDX decoder over bytes
 * (gunzip by the platform's DecompressionStream), the task streams, and the `fashion-mnist`
 * dataset whose embedded subset is fetched over HTTP from where the host page serves it.
 * Same component ids, option schemas and decoded values as the Node entry.
 */
import { DataError, type ComponentDefinition, type DatasetLoader, type LabeledDataset, type Registry } from '@supermask/core';
import { decodeIdx, isGzip, type IdxArray } from './idx-decode.js';
import {
  FASHION_MNIST_DESCRIPTION,
  FASHION_MNIST_INFO,
  FASHION_MNIST_SCHEMA,
  IDX_FILE_NAMES,
  idxDatasetFromArrays,
  type IdxDatasetOptions,
  type IdxFileRole,
  type IdxFileSet,
} from './idx-dataset.js';
import { PACKAGE_NAME } from './package-name.js';
import { streamDefinitions } from './streams/components.js';

export { decodeIdx, IDX_TYPES, isGzip, type IdxArray, type IdxData, type IdxTypeCode } from './idx-decode.js';
export {
  FASHION_MNIST_DESCRIPTION,
  FASHION_MNIST_INFO,
  FASHION_MNIST_SCHEMA,
  IDX_FILE_NAMES,
  idxDatasetFromArrays,
  MNIST,
  MNIST_SCHEMA,
  type IdxDatasetOptions,
  type IdxDatasetSpec,
  type IdxFileRole,
  type IdxFileSet,
} from './idx-dataset.js';
export { classGroupsStreamDefinition, permutedStreamDefinition, rotatedStreamDefinition, splitStreamDefinition, streamDefinitions } from './streams/components.js';
export { PACKAGE_NAME } from './package-name.js';


/** Gunzips `bytes` with the platform's DecompressionStream (browsers, Node >= 18). */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Decodes IDX bytes, raw or gzipped; `file` names them in errors (DataError). */
export async function parseIdxBytes(buffer: Uint8Array, file: string): Promise<IdxArray> {
  if (!isGzip(buffer)) return decodeIdx(buffer, file);
  let bytes: Uint8Array;
  try {
    bytes = await gunzip(buffer);
  } catch (error) {
    throw new DataError(`${file}: corrupt or truncated gzip data (${(error as Error).message}); expected a complete gzip stream of an IDX file`, file);
  }
  return decodeIdx(bytes, file, true);
}

/** Fetches a URL's bytes; replaced in tests. */
export type Fetcher = (url: string) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;

/** The embedded Fashion-MNIST subset, fetched from `baseUrl` (a folder holding the four `.gz` IDX files). */
export class FetchedFashionMnistLoader implements DatasetLoader {
  constructor(
    readonly baseUrl: string,
    readonly options: IdxDatasetOptions,
    readonly fetcher: Fetcher = (url) => fetch(url),
  ) {}

  async load(): Promise<LabeledDataset> {
    if (this.options.source !== 'embedded') {
      throw new DataError(`dataset.options.source "${this.options.source}": a web page has only the embedded ${FASHION_MNIST_INFO.title} subset; expected "embedded"`);
    }
    const roles = Object.keys(IDX_FILE_NAMES) as IdxFileRole[];
    const base = this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`;
    const files = Object.fromEntries(roles.map((role) => [role, `${base}${IDX_FILE_NAMES[role]}.gz`])) as IdxFileSet;
    const arrays = await Promise.all(
      roles.map(async (role) => {
        const url = files[role];
        let response: Awaited<ReturnType<Fetcher>>;
        try {
          response = await this.fetcher(url);
        } catch (error) {
          throw new DataError(`${url}: cannot be fetched (${(error as Error).message})`, url);
        }
        if (!response.ok) throw new DataError(`${url}: HTTP ${response.status}; expected the ${FASHION_MNIST_INFO.title} IDX file served with the page`, url);
        return [role, await parseIdxBytes(new Uint8Array(await response.arrayBuffer()), url)] as const;
      }),
    );
    return idxDatasetFromArrays(FASHION_MNIST_INFO, Object.fromEntries(arrays) as Record<IdxFileRole, IdxArray>, files, 'embedded');
  }
}

/** The `fashion-mnist` dataset component over HTTP: same id and options schema as the Node one. */
export function fetchedFashionMnistDefinition(baseUrl: string, fetcher?: Fetcher): ComponentDefinition<DatasetLoader, IdxDatasetOptions> {
  return {
    kind: 'dataset',
    id: FASHION_MNIST_INFO.id,
    description: FASHION_MNIST_DESCRIPTION,
    schema: FASHION_MNIST_SCHEMA,
    package: PACKAGE_NAME,
    create: (options) => new FetchedFashionMnistLoader(baseUrl, options, fetcher),
  };
}

/** Registers the streams and the fetched `fashion-mnist` dataset (its files under `embeddedUrl`). */
export function registerBrowser(registry: Registry, options: { embeddedUrl: string; fetcher?: Fetcher }): void {
  registry.register(fetchedFashionMnistDefinition(options.embeddedUrl, options.fetcher));
  for (const definition of streamDefinitions) registry.register(definition);
}
