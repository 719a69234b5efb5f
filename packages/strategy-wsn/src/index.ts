import type { PluginManifest, Registry } from '@supermask/core';
import { WSN, WSN_PHASE_SCHEMA, WSN_SCHEMA, wsnPhase, type WSNOptions } from './wsn.js';

export * from './wsn.js';

const PACKAGE = '@supermask/strategy-wsn';

/** What this package registers (checked when it is loaded as a plugin: `"plugins": ["@supermask/strategy-wsn"]`). */
export const manifest: PluginManifest[] = [
  {
    id: 'wsn',
    kind: 'phase',
    core: '^0.1.0',
    description: "WSN: the task's scores (straight-through top-k) and the free weights of its mask train together",
    schema: WSN_PHASE_SCHEMA,
  },
  {
    id: 'wsn',
    kind: 'strategy',
    core: '^0.1.0',
    description: 'Winning SubNetworks: one wsn phase per task; weights earlier tasks use are frozen',
    schema: WSN_SCHEMA,
  },
];

/**
 * Registers the `wsn` phase kind and the `wsn` strategy. Its mask scorer (`topk`, from
 * @supermask/strategy-supsup) and ownership policy (`exclusive`, from
 * @supermask/strategy-exssnet) are taken from the registry by id, not copied.
 */
export function register(registry: Registry): void {
  const [phase, strategy] = manifest as [PluginManifest, PluginManifest];
  registry.register({ kind: 'phase', id: phase.id, description: phase.description!, package: PACKAGE, schema: phase.schema, create: () => wsnPhase });
  registry.register<WSN, WSNOptions>({
    kind: 'strategy',
    id: strategy.id,
    description: strategy.description!,
    package: PACKAGE,
    schema: strategy.schema,
    defaults: { mask_scorer: { id: 'topk' }, ownership_policy: { id: 'exclusive' } },
    create: (options) => new WSN(options),
  });
}

export const plugin = { name: PACKAGE, register };
