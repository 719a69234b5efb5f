/**
 * Component definitions (kinds `dataset` and `stream`) contributed by @supermask/datasets.
 */
import { TOKENS, type ComponentDefinition, type DatasetLoader, type JsonSchema, type RunOptions, type StreamBuilder } from '@supermask/core';
import { CIFAR10, CIFAR100, CifarDatasetLoader, type CifarDatasetOptions } from './cifar.js';
import type { DataLookup } from './lookup.js';
import { FASHION_MNIST_DESCRIPTION, FASHION_MNIST_SCHEMA, MNIST, MNIST_SCHEMA, type IdxDatasetOptions, type IdxDatasetSpec } from './idx-dataset.js';
import { FASHION_MNIST, IdxDatasetLoader } from './mnist-family.js';
import { TINY_IMAGENET, TinyImageNetLoader, type TinyImageNetOptions } from './tinyimagenet.js';

import { PACKAGE_NAME } from './package-name.js';
import { classGroupsStreamDefinition, permutedStreamDefinition, rotatedStreamDefinition, splitStreamDefinition } from './streams/components.js';

export { PACKAGE_NAME } from './package-name.js';
export { FASHION_MNIST_SCHEMA, MNIST_SCHEMA } from './idx-dataset.js';
export { classGroupsStreamDefinition, permutedStreamDefinition, rotatedStreamDefinition, splitStreamDefinition, streamDefinitions } from './streams/components.js';

/** The DI container a component's `create` receives. */
export type ComponentContainer = Parameters<ComponentDefinition['create']>[1];

/** The run's data lookup (`--data-dir`, environment) from the container, when registered. */
export function dataLookupFrom(container: ComponentContainer | undefined): DataLookup {
  if (!container || !container.isRegistered(TOKENS.RunOptions, true)) return {};
  const run = container.resolve<RunOptions>(TOKENS.RunOptions);
  return { dataDir: run.dataDir, env: run.env };
}

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
  FASHION_MNIST_DESCRIPTION,
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
