/**
 * @supermask/datasets: the IDX (MNIST family) reader, the `fashion-mnist` and `mnist` datasets,
 * the embedded Fashion-MNIST subset, the `cifar10`, `cifar100` and `tinyimagenet` datasets, the
 * `split`, `permuted`, `rotated` and `class-groups` task streams (training augmentation is in core).
 */
import type { Registry } from '@supermask/core';
import { definitions, PACKAGE_NAME } from './components.js';

export { encodeIdx, IDX_TYPES, isGzip, parseIdx, readIdx, type IdxArray, type IdxData, type IdxTypeCode } from './idx.js';
export { EMBEDDED_FASHION_MNIST_DIR, EMBEDDED_FASHION_MNIST_PER_CLASS } from './embedded.js';
export {
  DATA_ENV_VAR,
  dataSearchPlaces,
  isDirectory,
  isFile,
  locateDataFiles,
  readDataFile,
  readNameList,
  type DataLocation,
  type ProbeResult,
} from './lookup.js';
export { FASHION_MNIST, findIdxFiles, IdxDatasetLoader, loadIdxDataset, locateDataset, type DataLookup, type SearchPlace } from './mnist-family.js';
export {
  FASHION_MNIST_DESCRIPTION,
  FASHION_MNIST_INFO,
  IDX_FILE_NAMES,
  idxDatasetFromArrays,
  MNIST,
  type IdxDatasetOptions,
  type IdxDatasetSpec,
  type IdxFileRole,
  type IdxFileSet,
} from './idx-dataset.js';
export {
  CIFAR_IMAGE_SHAPE,
  CIFAR_PIXEL_BYTES,
  CIFAR10,
  CIFAR100,
  CifarDatasetLoader,
  cifarRecordBytes,
  findCifarFiles,
  loadCifarDataset,
  locateCifar,
  parseCifarBatch,
  readCifarBatch,
  type CifarDatasetOptions,
  type CifarDatasetSpec,
  type CifarFileSet,
  type CifarLabelSpec,
} from './cifar.js';
export {
  decodeJpegRgb,
  jpegFrameSize,
  findTinyImageNetFiles,
  loadTinyImageNet,
  locateTinyImageNet,
  naturalCompare,
  readClassNames,
  readWnids,
  TINY_IMAGENET,
  TINY_IMAGENET_SHAPE,
  TINY_IMAGENET_SIZE,
  TinyImageNetLoader,
  type TinyImageNetFileSet,
  type TinyImageNetOptions,
  type TinyImageNetSpec,
} from './tinyimagenet.js';
export {
  buildTaskStream,
  channelsOf,
  COMMON_STREAM_PROPERTIES,
  commonPlanOptions,
  imageGeometry,
  normalizeInPlace,
  padTransform,
  sampleSorted,
  type CommonStreamOptions,
  type ImageTransform,
  type StreamPlan,
  type TaskPlan,
} from './streams/common.js';
export { resolveClassOrder, SPLIT_STREAM_SCHEMA, SplitStream, type SplitStreamOptions } from './streams/split.js';
export { PERMUTED_STREAM_SCHEMA, PermutedStream, permutationTransform, pixelPermutation, type PermutedStreamOptions } from './streams/permuted.js';
export { CLASS_GROUPS_STREAM_SCHEMA, ClassGroupsStream, type ClassGroupsStreamOptions } from './streams/class-groups.js';
export { resolveAngles, ROTATED_STREAM_SCHEMA, RotatedStream, rotationTransform, type RotatedStreamOptions } from './streams/rotated.js';
export {
  CIFAR10_SCHEMA,
  cifar10Definition,
  CIFAR100_SCHEMA,
  cifar100Definition,
  dataLookupFrom,
  definitions,
  FASHION_MNIST_SCHEMA,
  fashionMnistDefinition,
  MNIST_SCHEMA,
  mnistDefinition,
  PACKAGE_NAME,
  permutedStreamDefinition,
  rotatedStreamDefinition,
  classGroupsStreamDefinition,
  splitStreamDefinition,
  TINY_IMAGENET_SCHEMA,
  tinyImageNetDefinition,
  type ComponentContainer,
} from './components.js';

/**
 * Registers the datasets (`fashion-mnist`, `mnist`, `cifar10`, `cifar100`, `tinyimagenet`) and the
 * streams (`split`, `permuted`, `rotated`, `class-groups`).
 */
export function register(registry: Registry): void {
  for (const definition of definitions) registry.register(definition);
}

/** Plugin manifest of this package. */
export const plugin = { name: PACKAGE_NAME, register };
