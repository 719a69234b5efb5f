import type { PluginManifest, Registry } from '@supermask/core';
import { PackNet, PACKNET_SCHEMA, PRUNE_SCHEMA, prunePhase, type PackNetOptions } from './packnet.js';

export * from './packnet.js';

const PACKAGE = '@supermask/strategy-packnet';

/** What this package registers (checked when it is loaded as a plugin: `"plugins": ["@supermask/strategy-packnet"]`). */
export const manifest: PluginManifest[] = [
  {
    id: 'prune',
    kind: 'phase',
    core: '^0.1.0',
    description: "PackNet pruning: keep the largest-magnitude free weights of each layer, zero the rest, set the task's mask",
    schema: PRUNE_SCHEMA,
  },
  {
    id: 'packnet',
    kind: 'strategy',
    core: '^0.1.0',
    description: 'PackNet: train the free weights, prune to a kept fraction by magnitude, retrain the kept ones, freeze them (no scores)',
    schema: PACKNET_SCHEMA,
  },
];

/**
 * Registers the `prune` phase kind and the `packnet` strategy. PackNet has no scores (core's mask
 * scorer `none`); its ownership policy is `exclusive` (from @supermask/strategy-exssnet), taken from
 * the registry by id: a task trains only weights no earlier task owns.
 */
export function register(registry: Registry): void {
  const [phase, strategy] = manifest as [PluginManifest, PluginManifest];
  registry.register({ kind: 'phase', id: phase.id, description: phase.description!, package: PACKAGE, schema: phase.schema, create: () => prunePhase });
  registry.register<PackNet, PackNetOptions>({
    kind: 'strategy',
    id: strategy.id,
    description: strategy.description!,
    package: PACKAGE,
    schema: strategy.schema,
    defaults: { mask_scorer: { id: 'none' }, ownership_policy: { id: 'exclusive' } },
    create: (options) => new PackNet(options),
  });
}

export const plugin = { name: PACKAGE, register };
