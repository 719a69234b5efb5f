import * as tf from '@tensorflow/tfjs-core';
import type { ResolvedConfig } from './config.js';
import type { Backbone, ComponentState, Stateful } from './contracts.js';
import type { TaskStream } from './data.js';
import { componentState, expectTensor, type LoadedCheckpoint } from './checkpoint.js';
import { DataError } from './errors.js';
import type { AccuracyMatrix } from './metrics.js';
import type { TaskRecord } from './results.js';
import type { MidTaskPosition } from './mid-task.js';
import type { Rng } from './rng.js';
import { runFiles } from './run-files.js';
import { storedTensor, type StoredTensor } from './safetensors.js';

/**
 * The state protocol: every component with state (`saveState`/`loadState`) is saved in the
 * checkpoint under its key (its config slot, `phase/<id>` or `observers/<position>`): JSON in
 * `components[key]`, tensors as `key/<name>`. Names of the per-task tensors are shared with export.
 */

/** A component that may have state, under its checkpoint key. */
export type StatefulEntry = [key: string, component: Partial<Stateful> & { id?: string }];

/** Checkpoint tensor names of the network's state (shared by checkpoints and export). */
export const stateNames = {
  weight: (layer: string) => `layer/${layer}/weight`,
  mask: (layer: string, task: number) => `layer/${layer}/mask/${task}`,
  backbonePrefix: (task: number) => `backbone/${task}/`,
};

/** The per-task backbone state (batch norm) stored under `prefix` in a tensor map. */
export function taskStateTensors(tensors: Iterable<[string, StoredTensor]>, prefix: string): Record<string, StoredTensor> {
  const state: Record<string, StoredTensor> = {};
  for (const [name, x] of tensors) if (name.startsWith(prefix)) state[name.slice(prefix.length)] = x;
  return state;
}

export interface SavedRun {
  config: ResolvedConfig;
  stream: TaskStream;
  backbone: Backbone;
  rng: Rng;
  learned: number;
  components: readonly StatefulEntry[];
  accuracyMatrix: AccuracyMatrix;
  taskRecords: TaskRecord[];
  startedAt: Date;
  backend: string;
  runId: string;
  /** A mid-task checkpoint: the task in progress (its tensors already named `position/...`). */
  midTask?: { position: MidTaskPosition; tensors: Map<string, StoredTensor> };
}

/** Writes the state after the finished tasks to `dir` (checkpoint.json + safetensors); tensors are read asynchronously. */
export async function saveRunState(dir: string, run: SavedRun): Promise<{ file: string; bytes: number }> {
  const tensors = new Map<string, StoredTensor>();
  for (const l of run.backbone.layers) {
    tensors.set(stateNames.weight(l.name), storedTensor('F32', l.shape, Float32Array.from((await l.weight.data()) as Float32Array)));
  }
  for (let t = 0; t < run.learned; t++) {
    for (const l of run.backbone.layers) {
      const bits = l.masks.packedMask(t);
      tensors.set(stateNames.mask(l.name, t), storedTensor('U8', [bits.length], bits));
    }
    for (const [name, x] of Object.entries((await run.backbone.taskState?.(t)) ?? {})) tensors.set(`${stateNames.backbonePrefix(t)}${name}`, x);
  }
  const components: Record<string, unknown> = {};
  for (const [key, component] of run.components) {
    const state = component.saveState?.();
    if (!state) continue;
    components[key] = state.json ?? null;
    for (const [name, x] of Object.entries(state.tensors ?? {})) tensors.set(`${key}/${name}`, x);
  }
  for (const [name, x] of run.midTask?.tensors ?? []) tensors.set(name, x);
  return runFiles().writeCheckpoint(
    dir,
    {
      format: 'supermask-checkpoint',
      format_version: run.midTask ? 2 : 1,
      run_id: run.runId,
      created_at: new Date().toISOString(),
      config: run.config as unknown as Record<string, unknown> & { seed: number },
      seed: run.config.seed,
      rng_state: run.rng.getState(),
      stream: { name: run.stream.name, tasks: run.stream.tasks.length, input_shape: run.stream.inputShape, num_classes: run.stream.numClasses },
      completed_tasks: run.learned,
      components,
      accuracy_matrix: run.accuracyMatrix,
      tasks: run.taskRecords as unknown as Record<string, unknown>[],
      started_at: run.startedAt.toISOString(),
      backend: run.backend,
      ...(run.midTask ? { position: run.midTask.position } : {}),
    },
    tensors,
  );
}

/**
 * Restores the finished tasks of a checkpoint into a fresh run: weights, masks, per-task backbone
 * state and every stateful component's state. `componentFor(key)` returns the component saved
 * under a key (creating it when needed, e.g. a phase kind), or undefined when the run has none.
 * Returns the restored results so far.
 */
export function restoreRunState(
  ckpt: LoadedCheckpoint,
  run: Pick<SavedRun, 'stream' | 'backbone' | 'rng'>,
  componentFor: (key: string) => StatefulEntry[1] | undefined,
): { completed: number; accuracyMatrix: AccuracyMatrix; taskRecords: TaskRecord[] } {
  const m = ckpt.manifest;
  const fail = (what: string): never => {
    throw new DataError(`${ckpt.file}: ${what}`, ckpt.file);
  };
  const stream = run.stream;
  if (m.stream.tasks !== stream.tasks.length || m.stream.input_shape.join(',') !== stream.inputShape.join(',') || m.stream.num_classes !== stream.numClasses) {
    fail(`the checkpoint's stream (${m.stream.tasks} tasks, input [${m.stream.input_shape.join(', ')}], ${m.stream.num_classes} outputs) does not match the data (${stream.tasks.length} tasks, input [${stream.inputShape.join(', ')}], ${stream.numClasses} outputs)`);
  }
  if (m.completed_tasks > stream.tasks.length || m.accuracy_matrix.length !== m.completed_tasks || m.tasks.length !== m.completed_tasks) {
    fail(`inconsistent checkpoint: ${m.completed_tasks} completed tasks, ${m.accuracy_matrix.length} accuracy rows, ${m.tasks.length} task records`);
  }
  const backbone = run.backbone;
  const layers = backbone.layers;
  // Validate every tensor and component before changing anything.
  const weights = layers.map((l) => expectTensor(ckpt, stateNames.weight(l.name), 'F32', l.shape));
  const masks = Array.from({ length: m.completed_tasks }, (_, t) => layers.map((l) => expectTensor(ckpt, stateNames.mask(l.name, t), 'U8', [Math.ceil(l.size / 8)])));
  const loads: [string, StatefulEntry[1], ComponentState][] = [];
  for (const key of Object.keys(m.components)) {
    const component = componentFor(key);
    if (!component?.loadState) fail(`it holds ${key} state but ${component ? `${key} "${component.id}" cannot load state` : `this run has no ${key}`}`);
    loads.push([key, component!, componentState(ckpt, key)]);
  }
  layers.forEach((l, i) => {
    const w = weights[i]!;
    tf.tidy(() => l.weight.assign(tf.tensor(new Float32Array(w.bytes.slice().buffer), l.shape)));
  });
  for (let t = 0; t < m.completed_tasks; t++) {
    backbone.addTask(t);
    layers.forEach((l, i) => l.masks.restore(t, Uint8Array.from(masks[t]![i]!.bytes)));
    if (backbone.loadTaskState) {
      try {
        backbone.loadTaskState(t, taskStateTensors(ckpt.tensors, stateNames.backbonePrefix(t)));
      } catch (error) {
        fail(`${(error as Error).message}`);
      }
    }
    backbone.finishTask?.(t);
  }
  for (const [key, component, state] of loads) {
    try {
      component.loadState!(state);
    } catch (error) {
      fail(`${key} state: ${(error as Error).message}`);
    }
  }
  run.rng.setState(m.rng_state);
  return { completed: m.completed_tasks, accuracyMatrix: m.accuracy_matrix, taskRecords: m.tasks as unknown as TaskRecord[] };
}

/**
 * Gives `to` the state `from` holds (both of one kind and id, e.g. the run's task inference and
 * the same method under other options): what `from` learned carries over. Nothing happens when
 * either side has no state, or when `to` refuses it (it then starts empty).
 */
export function adoptState(to: object, from: object): void {
  const [target, source] = [to as Partial<Stateful>, from as Partial<Stateful>];
  const state = source.saveState?.();
  if (!state || !target.loadState) return;
  try {
    target.loadState(state);
  } catch {
    // State that does not fit these options: `to` keeps its empty state and learns its own.
  }
}
