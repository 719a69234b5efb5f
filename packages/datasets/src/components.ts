/**
 * Component definitions (kinds `dataset` and `stream`) contributed by @supermask/datasets.
 */
import { TOKENS, type ComponentDefinition, type DatasetLoader, type JsonSchema, type RunOptions, type StreamBuilder } from '@supermask/core';
import { CIFAR10, CIFAR100, CifarDatasetLoader, type CifarDatasetOptions } from './cifar.js';
import type { DataLookup } from './lookup.js';
import { FASHION_MNIST, IdxDatasetLoader, MNIST, type IdxDatasetOptions, type IdxDatasetSpec } from './mnist-family.js';
import { TINY_IMAGENET, TinyImageNetLoader, type TinyImageNetOptions } from './tinyimagenet.js';
import { PERMUTED_STREAM_SCHEMA, PermutedStream, type PermutedStreamOptions } from './streams/permuted.js';
import { ROTATED_STREAM_SCHEMA, RotatedStream, type RotatedStreamOptions } from './streams/rotated.js';
import { SPLIT_STREAM_SCHEMA, SplitStream, type SplitStreamOptions } from './streams/split.js';
import { CLASS_GROUPS_STREAM_SCHEMA, ClassGroupsStream, type ClassGroupsStreamOptions } from './streams/class-groups.js';

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

const LOOKUP_TEXT = 'found in --data-dir, $SUPERMASK_DATA or';

export const CIFAR10_SCHEMA: JsonSchema = {
  type: 'object',
  description: `CIFAR-10 has no options: the binary batches are ${LOOKUP_TEXT} ${CIFAR10.defaultDir} (each directly or in its ${CIFAR10.subdir} folder)`,
  properties: {},
  additionalProperties: false,
};

export const CIFAR100_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    label: {
      enum: ['fine', 'coarse'],
      default: 'fine',
      description: '"fine": the 100 classes; "coarse": the 20 superclasses (both stored in every record)',
    },
  },
  additionalProperties: false,
};

export const TINY_IMAGENET_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    classes: {
      type: 'integer',
      minimum: 1,
      maximum: 200,
      description: 'Load only the first N classes in wnids.txt order (default: all 200; the whole set is 100,000 training images, about 4.9 GB as float32)',
    },
    train_per_class: {
      type: 'integer',
      minimum: 1,
      description: 'At most this many training images per class, the first in file-name order (default: all, 500); the validation images of the classes are all kept',
    },
  },
  additionalProperties: false,
};

export const cifar10Definition: ComponentDefinition<DatasetLoader, CifarDatasetOptions> = {
  kind: 'dataset',
  id: 'cifar10',
  description: `CIFAR-10 (32x32 colour, 10 classes, 50,000/10,000) from the binary batches ${LOOKUP_TEXT} ${CIFAR10.defaultDir}`,
  schema: CIFAR10_SCHEMA,
  package: PACKAGE_NAME,
  create: (options, container) => new CifarDatasetLoader(CIFAR10, options, dataLookupFrom(container)),
};

export const cifar100Definition: ComponentDefinition<DatasetLoader, CifarDatasetOptions> = {
  kind: 'dataset',
  id: 'cifar100',
  description: `CIFAR-100 (32x32 colour, 100 fine or 20 coarse classes, 50,000/10,000) from train.bin/test.bin ${LOOKUP_TEXT} ${CIFAR100.defaultDir}`,
  schema: CIFAR100_SCHEMA,
  package: PACKAGE_NAME,
  create: (options, container) => new CifarDatasetLoader(CIFAR100, options, dataLookupFrom(container)),
};

export const tinyImageNetDefinition: ComponentDefinition<DatasetLoader, TinyImageNetOptions> = {
  kind: 'dataset',
  id: 'tinyimagenet',
  description: `TinyImageNet (64x64 colour JPEGs, 200 classes, 500 train / 50 val per class) from the tiny-imagenet-200 folder ${LOOKUP_TEXT} ${TINY_IMAGENET.defaultDir}`,
  schema: TINY_IMAGENET_SCHEMA,
  package: PACKAGE_NAME,
  create: (options, container) => new TinyImageNetLoader(options, dataLookupFrom(container)),
};

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

export const classGroupsStreamDefinition: ComponentDefinition<StreamBuilder, ClassGroupsStreamOptions> = {
  kind: 'stream',
  id: 'class-groups',
  description: 'Tasks given as explicit lists of class ids (a class may recur in several tasks), labels remapped per task',
  schema: CLASS_GROUPS_STREAM_SCHEMA,
  package: PACKAGE_NAME,
  create: (options) => new ClassGroupsStream(options),
};

/** Every component of this package. */
export const definitions: readonly ComponentDefinition<DatasetLoader | StreamBuilder>[] = [
  fashionMnistDefinition,
  mnistDefinition,
  cifar10Definition,
  cifar100Definition,
  tinyImageNetDefinition,
  splitStreamDefinition,
  permutedStreamDefinition,
  rotatedStreamDefinition,
  classGroupsStreamDefinition,
];
