import type { Registry } from '@supermask/core';
import { KKT_SCHEMA, KnnKnowledgeTransfer, type KktOptions } from './kkt.js';

export * from './kkt.js';
export * from './knn.js';

const PACKAGE = '@supermask/kkt';

/** Registers the `kkt` knowledge transfer. */
export function register(registry: Registry): void {
  registry.register<KnnKnowledgeTransfer, KktOptions>({
    kind: 'knowledge_transfer',
    id: 'kkt',
    description: "k-NN knowledge transfer: start a new task's scores from the earlier task whose features classify it best",
    package: PACKAGE,
    schema: KKT_SCHEMA,
    create: (options) => new KnnKnowledgeTransfer(options),
  });
}

export const plugin = { name: PACKAGE, register };
