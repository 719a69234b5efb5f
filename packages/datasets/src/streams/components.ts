/**
 * Component definitions of the task streams (kind `stream`): no file access, shared by the
 * package's Node entry and its browser entry.
 */
import type { ComponentDefinition, StreamBuilder } from '@supermask/core';
import { PACKAGE_NAME } from '../package-name.js';
import { CLASS_GROUPS_STREAM_SCHEMA, ClassGroupsStream, type ClassGroupsStreamOptions } from './class-groups.js';
import { PERMUTED_STREAM_SCHEMA, PermutedStream, type PermutedStreamOptions } from './permuted.js';
import { ROTATED_STREAM_SCHEMA, RotatedStream, type RotatedStreamOptions } from './rotated.js';
import { SPLIT_STREAM_SCHEMA, SplitStream, type SplitStreamOptions } from './split.js';

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

/** Every stream definition. */
export const streamDefinitions: readonly ComponentDefinition<StreamBuilder>[] = [
  splitStreamDefinition,
  permutedStreamDefinition,
  rotatedStreamDefinition,
  classGroupsStreamDefinition,
] as ComponentDefinition<StreamBuilder>[];
