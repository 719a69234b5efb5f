/**
 * @supermask/backbone-bert: BERT (Hugging Face checkpoints) in TensorFlow.js, the Kim-CNN text
 * head over cached frozen BERT features (the paper's text model), BERT with per-task masks in
 * its encoder, text datasets and the multi-domain text stream.
 */
import type { Registry } from '@supermask/core';
import { definitions, PACKAGE_NAME } from './components.js';

export * from './model-dir.js';
export * from './bert.js';
export * from './tokenizer.js';
export * from './feature-cache.js';
export * from './encoder.js';
export * from './kim-cnn.js';
export * from './bert-backbone.js';
export * from './text/table.js';
export * from './text/dataset.js';
export * from './text/lookup.js';
export * from './text/webnlp.js';
export * from './text/glue.js';
export * from './text/local.js';
export * from './text/stream.js';
export * from './components.js';

/** Registers the text datasets (`text-files`, `webnlp`, `glue`, `local-text`), the `text-domains` stream and the `kim-cnn` and `bert` backbones. */
export function register(registry: Registry): void {
  for (const definition of definitions) registry.register(definition);
}

/** Plugin manifest of this package. */
export const plugin = { name: PACKAGE_NAME, register };
