import { TOKENS, type BackboneSpec, type Registry, type TaskInference } from '@supermask/core';
import { FrozenWeights } from './frozen.js';
import { BinaryInference, ExhaustiveInference, INFERENCE_SCHEMA, OneShotInference, type InferenceOptions } from './inference.js';
import { CONTRAST_SCHEMA, ContrastInference, type ContrastOptions } from './contrast.js';
import { PROTOTYPE_SCHEMA, PrototypeInference, type PrototypeOptions } from './prototype.js';
import { SupSup, SUPSUP_SCHEMA, type SupSupOptions } from './supsup.js';
import { TopKScorer, TOPK_SCHEMA, type TopKOptions } from './topk.js';

export * from './frozen.js';
export * from './inference.js';
export * from './reliability.js';
export * from './contrast.js';
export * from './prototype.js';
export * from './supsup.js';
export * from './topk.js';

const PACKAGE = '@supermask/strategy-supsup';

/** Registers the top-k scorer, the frozen ownership policy, one-shot, binary, exhaustive, contrast and prototype task inference and the SupSup recipe. */
export function register(registry: Registry): void {
  registry.register<TopKScorer, TopKOptions>({
    kind: 'mask_scorer',
    id: 'topk',
    description: 'Edge-popup top-k mask: keeps the largest |scores| of each layer (selection, no sort), straight-through gradient',
    package: PACKAGE,
    schema: TOPK_SCHEMA,
    create: (options) => new TopKScorer(options),
  });
  registry.register({
    kind: 'ownership_policy',
    id: 'frozen',
    description: 'Weights never change (SupSup): only masks are learned',
    package: PACKAGE,
    schema: { type: 'object', additionalProperties: false, properties: {} },
    create: () => new FrozenWeights(),
  });
  const inferences: { id: string; description: string; create: (options: InferenceOptions) => TaskInference }[] = [
    { id: 'oneshot', description: 'SupSup one-shot: mix all masks equally, pick the task with the most negative entropy gradient', create: (o) => new OneShotInference(o) },
    { id: 'binary', description: 'SupSup binary: keep the half of the candidates with the lowest entropy gradient, repeat', create: (o) => new BinaryInference(o) },
    {
      id: 'exhaustive',
      description: 'Run every mask alone and pick the task with the lowest output entropy (k forward passes per batch)',
      create: (o) => new ExhaustiveInference(o),
    },
  ];
  for (const { id, description, create } of inferences) {
    registry.register<TaskInference, InferenceOptions>({ kind: 'task_inference', id, description, package: PACKAGE, schema: INFERENCE_SCHEMA, create });
  }
  registry.register<TaskInference, ContrastOptions>({
    kind: 'task_inference',
    id: 'contrast',
    description:
      'Entropy gradient of the superposition on the batch minus on the scrambled batch ranks the tasks; the best `candidates` run alone and the lowest entropy wins (reliable with trained weights, no superfluous outputs needed; constant passes per batch)',
    package: PACKAGE,
    schema: CONTRAST_SCHEMA,
    create: (options, c) => new ContrastInference(options, c.resolve<BackboneSpec>(TOKENS.BackboneSpec)),
  });
  registry.register<TaskInference, PrototypeOptions>({
    kind: 'task_inference',
    id: 'prototype',
    description:
      "Each task's training-input statistics (per-feature mean and variance) rank the tasks by the batch's likelihood; the best `candidates` run alone and the lowest entropy wins (no gradient, no superfluous outputs; `candidates` forward passes per batch)",
    package: PACKAGE,
    schema: PROTOTYPE_SCHEMA,
    create: (options) => new PrototypeInference(options),
  });
  registry.register<SupSup, SupSupOptions>({
    kind: 'strategy',
    id: 'supsup',
    description: 'SupSup: one mask phase per task over frozen random weights',
    package: PACKAGE,
    schema: SUPSUP_SCHEMA,
    defaults: { mask_scorer: { id: 'topk' }, ownership_policy: { id: 'frozen' } },
    create: (options) => new SupSup(options),
  });
}

export const plugin = { name: PACKAGE, register };
