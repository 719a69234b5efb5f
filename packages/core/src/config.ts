import { AUGMENTATION_SCHEMA, type AugmentationConfig } from './augment.js';
import { BACKEND_CHOICES, type BackendChoice } from './backend.js';
import { ConfigError } from './errors.js';
import { parseConfigText } from './config-input.js';
import { createAjv, formatAjvErrors, type ComponentRef, type JsonSchema, type Registry } from './registry.js';

import { COMPONENT_SLOTS, CONFIG_SLOTS, OBSERVERS_SLOT, type ComponentSlot } from './slots.js';

export { COMPONENT_SLOTS, CONFIG_SLOTS, OBSERVERS_SLOT, type ComponentSlot } from './slots.js';

/** A config as written by a user (JSON or YAML). */
export interface ExperimentConfig {
  name?: string;
  plugins?: string[];
  seed?: number;
  backend?: BackendChoice;
  dataset: ComponentRef;
  stream: ComponentRef;
  backbone: ComponentRef;
  strategy: ComponentRef;
  mask_scorer?: ComponentRef;
  ownership_policy?: ComponentRef;
  knowledge_transfer?: ComponentRef;
  task_inference?: ComponentRef;
  observers?: ComponentRef[];
  evaluation?: { batch_size?: number; each_epoch?: boolean };
  debug?: { check_protected_weights?: boolean };
  checkpoint?: { enabled?: boolean; every_steps?: number; every_minutes?: number };
  augmentation?: Partial<AugmentationConfig>;
  batch_norm?: { recalibration_examples?: number; batch_size?: number };
  outputs?: { superfluous?: number };
}

export interface ResolvedComponentRef {
  id: string;
  options: Record<string, unknown>;
}

/** A config with every default applied and every component's options validated. */
export type ResolvedConfig = Record<ComponentSlot, ResolvedComponentRef> & {
  name: string;
  plugins: string[];
  seed: number;
  backend: BackendChoice;
  /** Absent in configs saved before observers existed (read as the default list). */
  observers: ResolvedComponentRef[];
  evaluation: { batch_size: number; each_epoch: boolean };
  debug: { check_protected_weights: boolean };
  /** every_steps/every_minutes: absent in configs saved before mid-task checkpoints (read as the defaults). */
  checkpoint: { enabled: boolean; every_steps?: number; every_minutes?: number };
  augmentation: AugmentationConfig;
  batch_norm: { recalibration_examples: number; batch_size: number };
  outputs: { superfluous: number };
};

const componentRefSchema = (description: string): JsonSchema => ({
  type: 'object',
  description,
  required: ['id'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', minLength: 1, description: 'Registered id (see `supermask list`)' },
    options: { type: 'object', description: "The component's options (validated by its own schema)" },
  },
});

/** JSON Schema of an experiment config (component options are validated by each component). */
export const CONFIG_SCHEMA: JsonSchema = {
  $id: 'https://supermask.dev/schemas/config.json',
  type: 'object',
  required: COMPONENT_SLOTS.filter((slot) => 'required' in CONFIG_SLOTS[slot]),
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    plugins: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      default: [],
      description: 'npm packages providing components (third-party plugins), loaded before the config is resolved',
    },
    name: { type: 'string', minLength: 1, description: 'Run name (default: the config file name)' },
    seed: { type: 'integer', minimum: 0, maximum: 4294967295, default: 0, description: 'Seed of every random choice' },
    backend: { enum: [...BACKEND_CHOICES], default: 'auto', description: 'tfjs backend' },
    ...Object.fromEntries(COMPONENT_SLOTS.map((slot) => [slot, componentRefSchema(CONFIG_SLOTS[slot].description)])),
    observers: { type: 'array', items: componentRefSchema('An observer (kind observer)'), default: OBSERVERS_SLOT.fallback, description: OBSERVERS_SLOT.description },
    evaluation: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        batch_size: { type: 'integer', minimum: 1, default: 1000, description: 'Batch size at test time' },
        each_epoch: {
          type: 'boolean',
          default: false,
          description: "Also evaluate the current task's test split after every epoch (tasks[t].phases[p].epoch_accuracy)",
        },
      },
    },
    augmentation: { ...AUGMENTATION_SCHEMA, default: {} },
    batch_norm: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        recalibration_examples: {
          type: 'integer',
          minimum: 0,
          default: 2000,
          description: "After a task's phases, re-estimate its batch-norm statistics with the final mask on this many training examples (0: off)",
        },
        batch_size: { type: 'integer', minimum: 1, default: 50, description: 'Batch size of the recalibration pass (running statistics use momentum 0.1 per batch)' },
      },
    },
    outputs: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        superfluous: {
          type: 'integer',
          minimum: 0,
          default: 0,
          description:
            "Extra outputs after the stream's classes (SupSup's superfluous neurons): trained towards low values by the loss, never predicted; a wrong mask spreads probability over them, which sharpens entropy-based task inference",
        },
      },
    },
    checkpoint: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: {
          type: 'boolean',
          default: true,
          description: 'Write a checkpoint to the run directory after every task, every every_steps steps / every_minutes minutes of training, and when the run is stopped (resume with `supermask run --resume DIR`)',
        },
        every_steps: {
          type: 'integer',
          minimum: 0,
          default: 0,
          description: 'Write a mid-task checkpoint at the batch boundary after this many training steps since the last checkpoint (0: only by time)',
        },
        every_minutes: {
          type: 'number',
          minimum: 0,
          default: 5,
          description: 'Write a mid-task checkpoint at the first batch boundary after this many minutes since the last checkpoint (0: only by steps)',
        },
      },
    },
    debug: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        check_protected_weights: {
          type: 'boolean',
          default: false,
          description: 'After every weight-phase step, check that no weight outside the editable set moved (slow)',
        },
      },
    },
  },
};

export interface ResolveOptions {
  /** File the config came from (named in errors; its base name is the default run name). */
  file?: string;
  /** Command-line overrides. */
  seed?: number;
  backend?: BackendChoice;
}

/**
 * Validates a config against CONFIG_SCHEMA and every component's options against the
 * component's schema, applying defaults (the strategy's defaults fill empty slots).
 */
export function resolveConfig(raw: unknown, registry: Registry, opts: ResolveOptions = {}): ResolvedConfig {
  const where = opts.file ? ` in ${opts.file}` : '';
  const config = structuredClone(raw) as Record<string, unknown>;
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError(`invalid config${where}: expected a JSON/YAML object at the top level`, [], opts.file);
  }
  if (opts.seed !== undefined) config.seed = opts.seed;
  if (opts.backend !== undefined) config.backend = opts.backend;
  const validate = validateTop ?? (validateTop = createAjv().compile(CONFIG_SCHEMA));
  if (!validate(config)) {
    throw new ConfigError(`invalid config${where}`, formatAjvErrors(validate.errors, ''), opts.file);
  }
  // The schema's defaults have filled every top-level section.
  const c = config as unknown as ExperimentConfig &
    Pick<ResolvedConfig, 'seed' | 'backend' | 'evaluation' | 'debug' | 'checkpoint' | 'augmentation' | 'batch_norm' | 'outputs' | 'plugins'> & { observers: ComponentRef[] };
  const resolve = (slot: ComponentSlot | 'observer', ref: ComponentRef, path: string = slot): ResolvedComponentRef => {
    try {
      return { id: ref.id, options: registry.resolveOptions(slot === 'observer' ? 'observer' : CONFIG_SLOTS[slot].kind, ref, path) };
    } catch (error) {
      if (error instanceof ConfigError) throw new ConfigError(`${error.message.split('\n')[0]}${where}`, error.problems, opts.file);
      throw error;
    }
  };
  const strategy = resolve('strategy', c.strategy);
  const defaults = registry.get('strategy', strategy.id).defaults ?? {};
  const slot = (kind: ComponentSlot): ResolvedComponentRef => {
    const def = CONFIG_SLOTS[kind];
    const ref = (c[kind as keyof ExperimentConfig] as ComponentRef | undefined) ?? defaults[kind] ?? ('fallback' in def ? def.fallback : undefined);
    if (!ref) {
      throw new ConfigError(`invalid config${where}`, [`${kind}: required field is missing (strategy "${strategy.id}" gives no default)`], opts.file);
    }
    return resolve(kind, ref);
  };
  const slots = Object.fromEntries(COMPONENT_SLOTS.map((kind) => [kind, kind === 'strategy' ? strategy : slot(kind)])) as Record<ComponentSlot, ResolvedComponentRef>;
  return {
    name: c.name ?? (opts.file ? fileStem(opts.file) : 'experiment'),
    plugins: c.plugins,
    seed: c.seed,
    backend: c.backend,
    ...slots,
    observers: (c.observers ?? []).map((ref, i) => resolve('observer', ref, `observers[${i}]`)),
    evaluation: c.evaluation,
    debug: c.debug,
    checkpoint: c.checkpoint,
    augmentation: c.augmentation,
    batch_norm: c.batch_norm,
    outputs: c.outputs,
  };
}

/**
 * Width of the output layer for a stream of `numClasses` classes: the classes plus the config's
 * superfluous outputs (configs saved before `outputs` existed have none).
 */
export function outputWidth(numClasses: number, config: { outputs?: { superfluous?: number } }): number {
  return numClasses + (config.outputs?.superfluous ?? 0);
}

let validateTop: ReturnType<ReturnType<typeof createAjv>['compile']> | undefined;

/** The base name of a path without its extension (`configs/demo.json` -> `demo`), for either separator. */
export function fileStem(file: string): string {
  const base = file.slice(Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}
