import type { Registry } from '@supermask/core';
import { ExSSNeT, EXSSNET_SCHEMA, type ExSSNeTOptions } from './exssnet.js';
import { OwnershipPolicy } from './ownership.js';

export * from './exssnet.js';
export * from './ownership.js';

const PACKAGE = '@supermask/strategy-exssnet';
const NO_OPTIONS = { type: 'object', additionalProperties: false, properties: {} };

/**
 * Registers the `exclusive` and `overlap` ownership policies and the `exssnet` and `ssnet`
 * strategies. Their mask scorer is `topk`, taken from the registry (registered by
 * @supermask/strategy-supsup), not copied.
 */
export function register(registry: Registry): void {
  registry.register({
    kind: 'ownership_policy',
    id: 'exclusive',
    description: "ExSSNeT: a task's weight phase changes only weights no earlier mask uses (earlier tasks bit-exact)",
    package: PACKAGE,
    schema: NO_OPTIONS,
    create: () => new OwnershipPolicy('exclusive'),
  });
  registry.register({
    kind: 'ownership_policy',
    id: 'overlap',
    description: "SSNeT ablation: a task's weight phase changes every weight of its mask (earlier tasks drift)",
    package: PACKAGE,
    schema: NO_OPTIONS,
    create: () => new OwnershipPolicy('overlap'),
  });
  registry.register<ExSSNeT, ExSSNeTOptions>({
    kind: 'strategy',
    id: 'exssnet',
    description: 'ExSSNeT: mask phase, then a weight phase on the exclusive weights of the task',
    package: PACKAGE,
    schema: EXSSNET_SCHEMA,
    defaults: { mask_scorer: { id: 'topk' }, ownership_policy: { id: 'exclusive' } },
    create: (options) => new ExSSNeT('exssnet', options),
  });
  registry.register<ExSSNeT, ExSSNeTOptions>({
    kind: 'strategy',
    id: 'ssnet',
    description: 'SSNeT: mask phase, then a weight phase on every weight of the task mask (overlap allowed)',
    package: PACKAGE,
    schema: EXSSNET_SCHEMA,
    defaults: { mask_scorer: { id: 'topk' }, ownership_policy: { id: 'overlap' } },
    create: (options) => new ExSSNeT('ssnet', options),
  });
}

export const plugin = { name: PACKAGE, register };
