import {
  LedgerOwnershipPolicy,
  Rng,
  type PluginManifest,
  type Registry,
  type WeightOwnershipPolicy,
} from '@supermask/core';

export interface RandomOwnerOptions {
  /** Fraction of a task's exclusive weights that its weight phase trains. */
  fraction: number;
  /** Seed of the random choice (combined with the task and layer). */
  seed: number;
}

/** What this package provides, checked by supermask before anything runs. */
export const manifest: PluginManifest = {
  id: 'random-owner',
  kind: 'ownership_policy',
  core: '^0.1.0',
  description: "ExSSNeT's exclusive weights, of which only a seeded random fraction trains in each task's weight phase",
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      fraction: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.5, description: "Fraction of a task's exclusive weights that train" },
      seed: { type: 'integer', minimum: 0, default: 0, description: 'Seed of the random choice' },
    },
  },
};

/**
 * Like ExSSNeT's `exclusive` policy, task t may only change weights no earlier mask uses; of those
 * it trains a seeded random `fraction`. Ownership still follows use (every weight in M_t that was
 * free becomes task t's), so earlier tasks stay bit-exact and fewer weights move per task.
 * Recording, the report and checkpoint state come from core's LedgerOwnershipPolicy.
 */
export class RandomOwnerPolicy extends LedgerOwnershipPolicy implements WeightOwnershipPolicy {
  readonly allowsWeightTraining = true;

  constructor(readonly options: RandomOwnerOptions) {
    super('random-owner');
  }

  editable(layerIndex: number, task: number, mask: Float32Array): Float32Array {
    const exclusive = this.ledger.exclusive(layerIndex, mask);
    const rng = new Rng(this.options.seed).child(`task-${task}/layer-${layerIndex}`);
    for (let i = 0; i < exclusive.length; i++) if (exclusive[i] !== 0 && rng.next() >= this.options.fraction) exclusive[i] = 0;
    return exclusive;
  }

  override report() {
    return { ...super.report(), fraction: this.options.fraction };
  }
}

/** Registers the component described by `manifest`. */
export function register(registry: Registry): void {
  registry.register<RandomOwnerPolicy, RandomOwnerOptions>({
    kind: manifest.kind,
    id: manifest.id,
    description: manifest.description ?? '',
    schema: manifest.schema,
    package: 'supermask-plugin-random-owner',
    create: (options) => new RandomOwnerPolicy(options),
  });
}
