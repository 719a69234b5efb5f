import {
  OwnershipLedger,
  Rng,
  type ComponentState,
  type LayerShape,
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
 */
export class RandomOwnerPolicy implements WeightOwnershipPolicy {
  readonly id = 'random-owner';
  readonly allowsWeightTraining = true;
  private readonly ledger = new OwnershipLedger('random-owner');
  private layerNames: string[] = [];

  constructor(readonly options: RandomOwnerOptions) {}

  editable(layerIndex: number, task: number, mask: Float32Array): Float32Array {
    const exclusive = this.ledger.exclusive(layerIndex, mask);
    const rng = new Rng(this.options.seed).child(`task-${task}/layer-${layerIndex}`);
    for (let i = 0; i < exclusive.length; i++) if (exclusive[i] !== 0 && rng.next() >= this.options.fraction) exclusive[i] = 0;
    return exclusive;
  }

  recordTask(task: number, masks: readonly Float32Array[], layers: readonly LayerShape[]) {
    this.layerNames = layers.map((l) => l.name);
    return { ...this.ledger.record(task, masks, this.layerNames) };
  }

  report() {
    return { ...this.ledger.summary(this.layerNames), fraction: this.options.fraction };
  }

  saveState(): ComponentState {
    const state = this.ledger.saveState();
    return { ...state, json: { ledger: state.json, layer_names: this.layerNames } };
  }

  loadState(state: ComponentState): void {
    const json = state.json as { ledger: unknown; layer_names: string[] };
    this.ledger.loadState({ json: json.ledger, tensors: state.tensors });
    this.layerNames = json.layer_names;
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
