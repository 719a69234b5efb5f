/**
 * The one table of a config's component slots: each slot's kind, injection token, whether it is
 * required, its fallback when neither the config nor the strategy fills it, and its description.
 * The kinds (registry), the tokens, the config schema and the defaults derive from it.
 */
export const CONFIG_SLOTS = {
  dataset: { kind: 'dataset', token: Symbol.for('supermask.Dataset'), required: true, description: 'Where the examples come from (kind dataset)' },
  stream: { kind: 'stream', token: Symbol.for('supermask.Stream'), required: true, description: 'How the dataset becomes a sequence of tasks (kind stream)' },
  backbone: { kind: 'backbone', token: Symbol.for('supermask.Backbone'), required: true, description: 'The masked network (kind backbone)' },
  mask_scorer: { kind: 'mask_scorer', token: Symbol.for('supermask.MaskScorer'), description: 'Scores -> binary mask (kind mask_scorer); default from the strategy' },
  ownership_policy: {
    kind: 'ownership_policy',
    token: Symbol.for('supermask.OwnershipPolicy'),
    description: 'Which weights a task may change (kind ownership_policy); default from the strategy',
  },
  knowledge_transfer: {
    kind: 'knowledge_transfer',
    token: Symbol.for('supermask.KnowledgeTransfer'),
    fallback: { id: 'none' },
    description: 'Initialises a new task from earlier ones (kind knowledge_transfer); default from the strategy, else none',
  },
  task_inference: {
    kind: 'task_inference',
    token: Symbol.for('supermask.TaskInference'),
    fallback: { id: 'oracle' },
    description: 'Which task a test batch belongs to (kind task_inference); default from the strategy, else oracle',
  },
  strategy: {
    kind: 'strategy',
    token: Symbol.for('supermask.Strategy'),
    required: true,
    description: 'The continual-learning recipe (kind strategy): a list of phases per task; brings defaults for mask_scorer, ownership_policy, knowledge_transfer and task_inference',
  },
} as const;

/** The single-component slots of a config, named exactly as their kinds. */
export type ComponentSlot = keyof typeof CONFIG_SLOTS;
export const COMPONENT_SLOTS = Object.keys(CONFIG_SLOTS) as ComponentSlot[];

/** The list slot `observers`: components of kind `observer`, created in this order. */
export const OBSERVERS_SLOT = {
  kind: 'observer',
  fallback: [{ id: 'metrics-csv' }, { id: 'events-jsonl' }],
  description: 'Observers of the run (kind observer), in order; default: metrics-csv and events-jsonl. results.json and checkpoints are written by the built-in results and checkpoint observers, always on in a run directory',
} as const;

/** Every component kind: the slots' kinds, then `phase` (named by strategies) and `observer` (the `observers` list). */
export const COMPONENT_KINDS = [...COMPONENT_SLOTS.map((slot) => CONFIG_SLOTS[slot].kind), 'phase', OBSERVERS_SLOT.kind] as readonly ComponentKind[];
export type ComponentKind = (typeof CONFIG_SLOTS)[ComponentSlot]['kind'] | 'phase' | (typeof OBSERVERS_SLOT)['kind'];
