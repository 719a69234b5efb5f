import type { ComponentState } from './contracts.js';
import { DataError } from './errors.js';
import { createAjv, formatAjvErrors, type JsonSchema } from './registry.js';
import type { SafetensorsFile, StoredTensor } from './safetensors.js';

/**
 * Checkpoints of a run directory: `checkpoint.json` (the manifest) points to one complete
 * `checkpoint-task-NNNN.safetensors`. Both are written to temporary files and renamed, the
 * tensors first, so the manifest only ever names a complete file; older tensor files are removed
 * after the manifest moved on. This module is the format (manifest, validation, tensor lookup);
 * checkpoint-file.ts reads and writes it on disk (Node only).
 */

export const CHECKPOINT_MANIFEST = 'checkpoint.json';
export const CHECKPOINT_FORMAT = 'supermask-checkpoint';
export const CHECKPOINT_FORMAT_VERSION = 1;

export interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
}

export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  format_version: number;
  /** The run this checkpoint belongs to (results.json carries the same id). */
  run_id?: string;
  created_at: string;
  /** The resolved config of the run (resume rebuilds everything from it). */
  config: Record<string, unknown> & { seed: number };
  seed: number;
  rng_state: [number, number, number, number];
  stream: { name: string; tasks: number; input_shape: number[]; num_classes: number };
  /** Tasks finished and saved (the next task to run is this index). */
  completed_tasks: number;
  tensors_file: string;
  tensors: TensorEntry[];
  /** JSON state of stateful components (ownership policy, knowledge transfer). */
  components: Record<string, unknown>;
  /** Results so far. */
  accuracy_matrix: (number | null)[][];
  tasks: Record<string, unknown>[];
  started_at: string;
  backend: string;
}

const MANIFEST_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['format', 'format_version', 'config', 'seed', 'rng_state', 'stream', 'completed_tasks', 'tensors_file', 'tensors', 'components', 'accuracy_matrix', 'tasks'],
  properties: {
    format: { const: CHECKPOINT_FORMAT },
    format_version: { type: 'integer' },
    run_id: { type: 'string', minLength: 1 },
    config: { type: 'object', required: ['seed', 'backbone', 'dataset', 'stream', 'strategy'] },
    seed: { type: 'integer', minimum: 0 },
    rng_state: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 4, maxItems: 4 },
    stream: {
      type: 'object',
      required: ['tasks', 'input_shape', 'num_classes'],
      properties: {
        tasks: { type: 'integer', minimum: 1 },
        input_shape: { type: 'array', items: { type: 'integer', minimum: 1 } },
        num_classes: { type: 'integer', minimum: 1 },
      },
    },
    completed_tasks: { type: 'integer', minimum: 0 },
    tensors_file: { type: 'string', pattern: '^[^/\\\\]+\\.safetensors$' },
    tensors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'dtype', 'shape'],
        properties: { name: { type: 'string' }, dtype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer', minimum: 0 } } },
      },
    },
    components: { type: 'object' },
    accuracy_matrix: { type: 'array', items: { type: 'array', items: { type: ['number', 'null'] } } },
    tasks: { type: 'array', items: { type: 'object' } },
  },
};

let validateManifest: ReturnType<ReturnType<typeof createAjv>['compile']> | undefined;

/** Checks a parsed checkpoint.json (`manifestFile` is named in the DataError). */
export function assertCheckpointManifest(manifest: unknown, manifestFile: string): asserts manifest is CheckpointManifest {
  const validate = validateManifest ?? (validateManifest = createAjv().compile(MANIFEST_SCHEMA));
  if (!validate(manifest)) {
    throw new DataError(`${manifestFile}: not a valid supermask checkpoint manifest:\n${formatAjvErrors(validate.errors, '').map((p) => `  - ${p}`).join('\n')}`, manifestFile);
  }
  const version = (manifest as CheckpointManifest).format_version;
  if (version > CHECKPOINT_FORMAT_VERSION) {
    throw new DataError(`${manifestFile}: checkpoint format version ${version} is newer than this supermask reads (${CHECKPOINT_FORMAT_VERSION}); upgrade @supermask/core`, manifestFile);
  }
}

export interface LoadedCheckpoint {
  dir: string;
  manifest: CheckpointManifest;
  file: string;
  tensors: SafetensorsFile['tensors'];
}

/** Checks a tensor of a checkpoint against what the rebuilt model expects. */
export function expectTensor(ckpt: LoadedCheckpoint, name: string, dtype: string, shape: readonly number[]): StoredTensor {
  const t = ckpt.tensors.get(name);
  if (!t) throw new DataError(`${ckpt.file}: tensor "${name}" is missing (the config's model needs it)`, ckpt.file);
  if (t.dtype !== dtype || t.shape.join(',') !== shape.join(',')) {
    throw new DataError(`${ckpt.file}: tensor "${name}" is ${t.dtype} [${t.shape.join(', ')}], the model needs ${dtype} [${shape.join(', ')}]`, ckpt.file);
  }
  return t;
}

/** The component state stored under `prefix/` (tensors) and manifest.components[prefix] (JSON). */
export function componentState(ckpt: LoadedCheckpoint, prefix: string): ComponentState {
  const tensors: Record<string, StoredTensor> = {};
  for (const [name, t] of ckpt.tensors) if (name.startsWith(`${prefix}/`)) tensors[name.slice(prefix.length + 1)] = t;
  return { json: ckpt.manifest.components[prefix], tensors };
}
