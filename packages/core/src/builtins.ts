import { registerBuiltinObservers } from './builtin-observers.js';
import type { KnowledgeTransfer, MaskScorer, TaskInference } from './contracts.js';
import { maskPhase, weightPhase } from './phase-kind.js';
import { phaseOptionsSchema } from './phases.js';
import type { PhaseOptions, PhaseSpec, Strategy } from './contracts.js';
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
  registerCoreKinds(registry);
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

const noOptions = { type: 'object', additionalProperties: false, properties: {} };

/** Mask scorer `none`: tasks get no scores; every mask is dense until a phase sets it (PackNet-like recipes). */
export const noScorer: MaskScorer = {
  id: 'none',
  densities: (layers) => layers.map(() => 1),
  maskValues: () => {
    throw new Error('mask scorer "none" gives no scores to make a mask from');
  },
  maskWithGradient: () => {
    throw new Error('mask scorer "none" gives no scores to train');
  },
};

/** Registers the phase kinds, the `none` scorer and the observers that core provides. */
function registerCoreKinds(registry: Registry): void {
  for (const kind of [maskPhase, weightPhase]) {
    registry.register({
      kind: 'phase',
      id: kind.id,
      package: '@supermask/core',
      description: kind.id === 'mask' ? "The task's scores train (straight-through mask), weights fixed" : 'The weights the ownership policy allows train (gradient times the editable set), mask fixed',
      schema: noOptions,
      create: () => kind,
    });
  }
  registry.register({ kind: 'mask_scorer', id: 'none', package: '@supermask/core', description: 'No scores: masks are dense until a phase sets them', schema: noOptions, create: () => noScorer });
  registerBuiltinObservers(registry);
  registerRecipe(registry);
}

const RECIPE_PHASE_DEFAULTS: PhaseOptions = { epochs: 1, optimizer: 'adam', lr: 0.01, momentum: 0.9, schedule: 'constant', batch_size: 64 };

/** Strategy `recipe`: the same list of phases (kinds by id, with options) for every task, written in the config. */
export class RecipeStrategy implements Strategy {
  readonly id = 'recipe';
  constructor(readonly options: { phases: PhaseSpec[] }) {}

  phases(): PhaseSpec[] {
    return this.options.phases.map((p) => ({ ...p }));
  }
}

function recipeSchema(): Record<string, unknown> {
  const phase = phaseOptionsSchema(RECIPE_PHASE_DEFAULTS, 'One phase of every task') as { properties: Record<string, unknown>; required?: string[] };
  phase.properties = {
    name: { type: 'string', minLength: 1, description: 'Phase kind id (kind phase: mask, weight, or a plugin\'s)' },
    options: { type: 'object', description: "The phase kind's options" },
    ...phase.properties,
  };
  phase.required = ['name'];
  return { type: 'object', additionalProperties: false, required: ['phases'], properties: { phases: { type: 'array', minItems: 1, items: phase, description: 'Phases of each task, in order' } } };
}

function registerRecipe(registry: Registry): void {
  registry.register({
    kind: 'strategy',
    id: 'recipe',
    package: '@supermask/core',
    description: 'A list of phases (kinds by id, with options) run for every task; name mask_scorer and ownership_policy in the config',
    schema: recipeSchema(),
    create: (options: { phases: PhaseSpec[] }) => new RecipeStrategy(options),
  });
}
