import type { KnowledgeTransfer, TaskInference } from './contracts.js';
import type { Registry } from './registry.js';

/** No knowledge transfer: every task starts from its fresh score init. */
export const noTransfer: KnowledgeTransfer = {
  id: 'none',
  beforeTask: async () => undefined,
};

/** Oracle task inference: the task id given with the data is used. */
export const oracleInference: TaskInference = {
  id: 'oracle',
  usesTaskId: true,
  infer: (_x, given) => given,
};

/** Registers the components that core itself provides. */
export function registerCoreComponents(registry: Registry): void {
  registry.register({
    kind: 'knowledge_transfer',
    id: 'none',
    description: 'No transfer: each task starts from a fresh score init',
    package: '@supermask/core',
    schema: { type: 'object', additionalProperties: false, properties: {} },
    create: () => noTransfer,
  });
  registry.register({
    kind: 'task_inference',
    id: 'oracle',
    description: 'The task id is given at test time',
    package: '@supermask/core',
    schema: { type: 'object', additionalProperties: false, properties: {} },
    create: () => oracleInference,
  });
}
