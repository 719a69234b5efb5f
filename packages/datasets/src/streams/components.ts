/**
 * Component definitions of the task streams (kind `stream`): no file access, shared by the
 * package's Node entry and its browser entry.
 */
import type { ComponentDefinition, JsonSchema, StreamBuilder } from '@supermask/core';
import { PACKAGE_NAME } from '../package-name.js';
import { CLASS_GROUPS_STREAM_SCHEMA, ClassGroupsStream, type ClassGroupsStreamOptions } from './class-groups.js';
import { PERMUTED_STREAM_SCHEMA, PermutedStream, type PermutedStreamOptions } from './permuted.js';
import { ROTATED_STREAM_SCHEMA, RotatedStream, type RotatedStreamOptions } from './rotated.js';
import { SPLIT_STREAM_SCHEMA, SplitStream, type SplitStreamOptions } from './split.js';

/** A `stream` component of this package whose builder is `new Stream(options)`. */
function streamDefinition<O>(id: string, description: string, schema: JsonSchema, Stream: new (options: O) => StreamBuilder): ComponentDefinition<StreamBuilder, O> {
  return { kind: 'stream', id, description, schema, package: PACKAGE_NAME, create: (options) => new Stream(options) };
}

export const splitStreamDefinition = streamDefinition<SplitStreamOptions>(
  'split',
  'Class-incremental split: each task takes classes_per_task classes in class_order, labels remapped to 0..k-1',
  SPLIT_STREAM_SCHEMA,
  SplitStream,
);

export const permutedStreamDefinition = streamDefinition<PermutedStreamOptions>(
  'permuted',
  'Permuted pixels: every task holds all classes, each task with its own seeded pixel permutation',
  PERMUTED_STREAM_SCHEMA,
  PermutedStream,
);

export const rotatedStreamDefinition = streamDefinition<RotatedStreamOptions>(
  'rotated',
  'Rotated images: every task holds all classes, each task rotated by its angle (bilinear, zero fill)',
  ROTATED_STREAM_SCHEMA,
  RotatedStream,
);

export const classGroupsStreamDefinition = streamDefinition<ClassGroupsStreamOptions>(
  'class-groups',
  'Tasks given as explicit lists of class ids (a class may recur in several tasks), labels remapped per task',
  CLASS_GROUPS_STREAM_SCHEMA,
  ClassGroupsStream,
);

/** Every stream definition. */
export const streamDefinitions: readonly ComponentDefinition<StreamBuilder>[] = [
  splitStreamDefinition,
  permutedStreamDefinition,
  rotatedStreamDefinition,
  classGroupsStreamDefinition,
] as ComponentDefinition<StreamBuilder>[];
