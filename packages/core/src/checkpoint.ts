import type { ComponentState } from './contracts.js';
import { DataError } from './errors.js';
import type { MidTaskPosition } from './mid-task.js';
import { createAjv, formatAjvErrors, type JsonSchema } from './registry.js';
import type { SafetensorsFile, StoredTensor } from './safetensors.js';

/**
 * Checkpoints of a run directory: `checkpoint.json` (the manifest) points to one complete
 * `checkpoint-task-NNNN.safetensors` (end of task: NNNN tasks finished) or, for a mid-task
 * checkpoint (manifest `position`, format version 2, see mid-task.ts),
 * `checkpoint-task-NNNN-step-SSSSSSSS.safetensors` (task NNNN+1 in progress). Both are written to
 * temporary files and renamed, the tensors first and never onto the file the current manifest
 * names, so the manifest only ever names a complete file; older tensor files are removed after the
 * manifest moved on. This module is the format (manifest, validation, tensor lookup);
 * checkpoint-file.ts reads and writes it on disk (Node only).
 */

export const CHECKPOINT_MANIFEST = 'checkpoint.json';
export const CHECKPOINT_FORMAT = 'supermask-checkpoint';
/** The newest format version this reads: 1 = end of task, 2 = mid-task (with `position`). */
export const CHECKPOINT_FORMAT_VERSION = 2;
/** Tensor files of checkpoints (end-of-task and mid-task). */
export const CHECKPOINT_TENSORS_FILE = /^checkpoint-task-\d+(-step-\d+(-\d+)?)?\.safetensors$/;

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
  /** Only in a mid-task checkpoint (format version 2): the task in progress and where its training stands. */
  position?: MidTaskPosition;
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
    position: {
      type: 'object',
      required: ['task', 'phase', 'phase_name', 'epoch', 'batch', 'steps', 'rng', 'optimizer', 'epoch_totals', 'phase_progress', 'phases'],
      properties: {
        task: { type: 'integer', minimum: 0 },
        phase: { type: 'integer', minimum: 0 },
        phase_name: { type: 'string' },
        epoch: { type: 'integer', minimum: 0 },
        batch: { type: 'integer', minimum: 0 },
        steps: { type: 'integer', minimum: 0 },
        rng: {
          type: 'object',
          required: ['shuffle'],
          properties: { shuffle: { $ref: '#/$defs/rngState' }, augment: { $ref: '#/$defs/rngState' } },
        },
        optimizer: {
          type: 'object',
          required: ['class', 'iterations', 'slots'],
          properties: {
            class: { type: 'string' },
            iterations: { type: 'integer', minimum: 0 },
            slots: { type: 'array', items: { type: 'object', required: ['variable', 'slot'], properties: { variable: { type: 'integer', minimum: 0 }, slot: { type: 'string' } } } },
            acc_beta: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 },
          },
        },
        epoch_totals: { type: 'object', required: ['loss', 'correct', 'seen', 'seconds'], additionalProperties: { type: 'number' } },
        phase_progress: {
          type: 'object',
          required: ['seconds', 'final_loss', 'train_accuracy', 'epoch_accuracy'],
          properties: { seconds: { type: 'number' }, final_loss: { type: ['number', 'null'] }, train_accuracy: { type: ['number', 'null'] }, epoch_accuracy: { type: 'array', items: { type: 'number' } } },
        },
        phases: { type: 'array', items: { type: 'object' } },
      },
    },
  },
  $defs: { rngState: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 4, maxItems: 4 } },
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
  const position = (manifest as CheckpointManifest).position;
  if ((position !== undefined) !== (version >= 2)) {
    throw new DataError(`${manifestFile}: format version ${version} ${position ? 'has' : 'lacks'} a position (a mid-task checkpoint is version 2 with a position, an end-of-task one version 1 without)`, manifestFile);
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
