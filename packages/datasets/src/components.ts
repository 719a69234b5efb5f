/**
 * Component definitions (kinds `dataset` and `stream`) contributed by @supermask/datasets.
 */
import { TOKENS, type ComponentDefinition, type DatasetLoader, type JsonSchema, type RunOptions, type StreamBuilder } from '@supermask/core';
import { FASHION_MNIST, IdxDatasetLoader, MNIST, type DataLookup, type IdxDatasetOptions, type IdxDatasetSpec } from './mnist-family.js';
import { PERMUTED_STREAM_SCHEMA, PermutedStream, type PermutedStreamOptions } from './streams/permuted.js';
import { ROTATED_STREAM_SCHEMA, RotatedStream, type RotatedStreamOptions } from './streams/rotated.js';
import { SPLIT_STREAM_SCHEMA, SplitStream, type SplitStreamOptions } from './streams/split.js';

export const PACKAGE_NAME = '@supermask/datasets';

/** The DI container a component's `create` receives. */
export type ComponentContainer = Parameters<ComponentDefinition['create']>[1];

/** The run's data lookup (`--data-dir`, environment) from the container, when registered. */
export function dataLookupFrom(container: ComponentContainer | undefined): DataLookup {
  if (!container || !container.isRegistered(TOKENS.RunOptions, true)) return {};
  const run = container.resolve<RunOptions>(TOKENS.RunOptions);
  return { dataDir: run.dataDir, env: run.env };
}

function sourceSchema(spec: IdxDatasetSpec): JsonSchema {
  const sources = spec.embeddedDir ? ['embedded', 'full'] : ['full'];
  return {
    type: 'object',
    properties: {
      source: {
        enum: sources,
        default: sources[0],
        description: spec.embeddedDir
          ? `"embedded": the ${spec.title} subset shipped in this package (1,000 train / 200 test images per class); "full": the four IDX files found in --data-dir, $SUPERMASK_DATA or ${spec.defaultDir}`
          : `"full": the four IDX files found in --data-dir, $SUPERMASK_DATA or ${spec.defaultDir} (${spec.title} has no embedded copy)`,
      },
    },
    additionalProperties: false,
  };
}

export const FASHION_MNIST_SCHEMA: JsonSchema = sourceSchema(FASHION_MNIST);
export const MNIST_SCHEMA: JsonSchema = sourceSchema(MNIST);

function datasetDefinition(spec: IdxDatasetSpec, schema: JsonSchema, description: string): ComponentDefinition<DatasetLoader, IdxDatasetOptions> {
  return {
    kind: 'dataset',
    id: spec.id,
    description,
    schema,
    package: PACKAGE_NAME,
    create: (options, container) => new IdxDatasetLoader(spec, options, dataLookupFrom(container)),
  };
}

export const fashionMnistDefinition = datasetDefinition(
  FASHION_MNIST,
  FASHION_MNIST_SCHEMA,
  'Fashion-MNIST (28x28 grey, 10 clothing classes): embedded 10,000/2,000 subset by default, or the full 60,000/10,000 IDX files',
);

export const mnistDefinition = datasetDefinition(
  MNIST,
  MNIST_SCHEMA,
  'MNIST handwritten digits (28x28 grey, 10 classes) from the four IDX files (no embedded copy)',
);

export const splitStreamDefinition: ComponentDefinition<StreamBuilder, SplitStreamOptions> = {
  kind: 'stream',
  id: 'split',
  description: 'Class-incremental split: each task takes classes_per_task classes in class_order, labels remapped to 0..k-1',
  schema: SPLIT_STREAM_SCHEMA,
  package: PACKAGE_NAME,
  create: (options) => new SplitStream(options),
};

export const permutedStreamDefinition: ComponentDefinition<StreamBuilder, PermutedStreamOptions> = {
  kind: 'stream',
  id: 'permuted',
  description: 'Permuted pixels: every task holds all classes, each task with its own seeded pixel permutation',
  schema: PERMUTED_STREAM_SCHEMA,
  package: PACKAGE_NAME,
  create: (options) => new PermutedStream(options),
};

export const rotatedStreamDefinition: ComponentDefinition<StreamBuilder, RotatedStreamOptions> = {
  kind: 'stream',
  id: 'rotated',
  description: 'Rotated images: every task holds all classes, each task rotated by its angle (bilinear, zero fill)',
  schema: ROTATED_STREAM_SCHEMA,
  package: PACKAGE_NAME,
  create: (options) => new RotatedStream(options),
};

/** Every component of this package. */
export const definitions: readonly ComponentDefinition<DatasetLoader | StreamBuilder>[] = [
  fashionMnistDefinition,
  mnistDefinition,
  splitStreamDefinition,
  permutedStreamDefinition,
  rotatedStreamDefinition,
];
