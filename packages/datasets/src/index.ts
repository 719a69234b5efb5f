/**
 * @supermask/datasets: the IDX (MNIST family) reader, the `fashion-mnist` and `mnist` datasets,
 * the embedded Fashion-MNIST subset, and the `split`, `permuted` and `rotated` task streams.
 */
import type { Registry } from '@supermask/core';
import { definitions, PACKAGE_NAME } from './components.js';

export { encodeIdx, IDX_TYPES, isGzip, parseIdx, readIdx, type IdxArray, type IdxData, type IdxTypeCode } from './idx.js';
export { EMBEDDED_FASHION_MNIST_DIR, EMBEDDED_FASHION_MNIST_PER_CLASS } from './embedded.js';
export {
  DATA_ENV_VAR,
  dataSearchPlaces,
  FASHION_MNIST,
  findIdxFiles,
  IDX_FILE_NAMES,
  IdxDatasetLoader,
  loadIdxDataset,
  locateDataset,
  MNIST,
  type DataLookup,
  type IdxDatasetOptions,
  type IdxDatasetSpec,
  type IdxFileRole,
  type IdxFileSet,
  type SearchPlace,
} from './mnist-family.js';
export {
  buildTaskStream,
  channelsOf,
  COMMON_STREAM_PROPERTIES,
  imageGeometry,
  normalizeInPlace,
  sampleSorted,
  type CommonStreamOptions,
  type ImageTransform,
  type StreamPlan,
  type TaskPlan,
} from './streams/common.js';
export { resolveClassOrder, SPLIT_STREAM_SCHEMA, SplitStream, type SplitStreamOptions } from './streams/split.js';
export { PERMUTED_STREAM_SCHEMA, PermutedStream, permutationTransform, pixelPermutation, type PermutedStreamOptions } from './streams/permuted.js';
export { resolveAngles, ROTATED_STREAM_SCHEMA, RotatedStream, rotationTransform, type RotatedStreamOptions } from './streams/rotated.js';
export {
  dataLookupFrom,
  definitions,
  FASHION_MNIST_SCHEMA,
  fashionMnistDefinition,
  MNIST_SCHEMA,
  mnistDefinition,
  PACKAGE_NAME,
  permutedStreamDefinition,
  rotatedStreamDefinition,
  splitStreamDefinition,
  type ComponentContainer,
} from './components.js';

/** Registers the `fashion-mnist` and `mnist` datasets and the `split`, `permuted` and `rotated` streams. */
export function register(registry: Registry): void {
  for (const definition of definitions) registry.register(definition);
}

/** Plugin manifest of this package. */
export const plugin = { name: PACKAGE_NAME, register };
