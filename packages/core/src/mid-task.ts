import * as tf from '@tensorflow/tfjs-core';
import type { Backbone, ComponentState } from './contracts.js';
import { expectTensor, type LoadedCheckpoint } from './checkpoint.js';
import { DataError } from './errors.js';
import { FusedOptimizer, type NamedTensor } from './fused-optimizer.js';
import type { PhaseSession } from './phase-kind.js';
import type { PhaseRecord, TaskRecord } from './results.js';
import type { RngState } from './rng.js';
import { asFloat32, storedTensor, type StoredTensor } from './safetensors.js';
import { taskStateTensors } from './state.js';

/**
 * Mid-task checkpoints: the state of a task that is still training, at a batch boundary, so that a
 * resumed run trains the same remaining batches with the same state and ends bit for bit where an
 * uninterrupted run ends (same backend). checkpoint.json of such a checkpoint has
 * `format_version: 2` and a `position` field (MidTaskPosition); its tensors live under
 * `position/` (scores, masks set by a phase, batch-norm statistics of the task, optimiser slots,
 * the phase session's state). An end-of-task checkpoint has no `position` (format version 1).
 */

/** Prefix of every tensor of the task in progress in a mid-task checkpoint. */
export const POSITION_PREFIX = 'position/';

const names = {
  scores: (layer: string) => `${POSITION_PREFIX}scores/${layer}`,
  mask: (layer: string) => `${POSITION_PREFIX}mask/${layer}`,
  backbone: `${POSITION_PREFIX}backbone/`,
  optimizer: (variable: number, slot: string) => `${POSITION_PREFIX}optimizer/${variable}/${slot}`,
  session: `${POSITION_PREFIX}session/`,
};

/** The `position` field of a mid-task checkpoint: where the task stands and the loop's partial sums. */
export interface MidTaskPosition {
  /** The task in progress (0-based; equals completed_tasks). */
  task: number;
  /** Its phase (position in the recipe) and the phase kind id. */
  phase: number;
  phase_name: string;
  /** Next epoch and batch to train (0-based). */
  epoch: number;
  batch: number;
  /** Steps trained in this phase so far. */
  steps: number;
  /** `shuffle`: state before this epoch's permutation; `augment`: state before the next batch's augmentation. */
  rng: { shuffle: RngState; augment?: RngState };
  /** Optimiser slots (tensors `position/optimizer/<variable>/<slot>`, variable = index in the session's variables, in getWeights order). */
  optimizer: { class: string; iterations: number; slots: { variable: number; slot: string }[]; acc_beta?: [number, number] };
  /** Sums of the current epoch so far, and its elapsed seconds. */
  epoch_totals: { loss: number; correct: number; seen: number; seconds: number };
  /** The partial record of the phase: seconds of finished epochs, last loss/accuracy, per-epoch test accuracy. */
  phase_progress: { seconds: number; final_loss: number | null; train_accuracy: number | null; epoch_accuracy: number[] };
  /** Records of the task's finished phases, and the knowledge transfer's record. */
  phases: PhaseRecord[];
  transfer?: TaskRecord['transfer'];
  /** JSON of the phase session's saveState (its tensors: `position/session/<name>`). */
  session?: unknown;
}

/** What the training loop hands over at a batch boundary. */
export interface LoopState extends Omit<MidTaskPosition, 'optimizer' | 'phases' | 'transfer' | 'session'> {
  optimizer: tf.Optimizer;
  variables: readonly tf.Variable[];
  session: PhaseSession;
}

/** A mid-task checkpoint read back: where to continue and its tensors. */
export interface ResumePoint {
  position: MidTaskPosition;
  tensors: ReadonlyMap<string, StoredTensor>;
  file: string;
}

/**
 * When a mid-task checkpoint is due: after `every_steps` steps or `every_minutes` minutes since
 * the last one (0 turns either off). `step()` and `due()` are a counter and a clock read per step.
 */
export class CheckpointClock {
  private steps = 0;
  private deadline = Infinity;
  private readonly everySteps: number;
  private readonly everyMs: number;

  constructor(options: { every_steps?: number; every_minutes?: number }) {
    this.everySteps = options.every_steps ?? 0;
    this.everyMs = (options.every_minutes ?? 5) * 60_000;
    this.reset();
  }

  step(): void {
    this.steps++;
  }

  due(): boolean {
    return (this.everySteps > 0 && this.steps >= this.everySteps) || performance.now() >= this.deadline;
  }

  reset(): void {
    this.steps = 0;
    this.deadline = this.everyMs > 0 ? performance.now() + this.everyMs : Infinity;
  }
}

const f32 = async (t: tf.Tensor) => Float32Array.from((await t.data()) as Float32Array);

/** Saves the optimiser's state (getWeights) into `tensors`, slots named by the variable's index in `variables`; returns its JSON part. */
export async function saveOptimizerState(optimizer: tf.Optimizer, variables: readonly tf.Variable[], tensors: Map<string, StoredTensor>): Promise<MidTaskPosition['optimizer']> {
  const index = new Map(variables.map((v, i) => [v.name, i]));
  const weights = await optimizer.getWeights();
  const [iter, ...slots] = weights;
  const out: MidTaskPosition['optimizer'] = { class: optimizer.getClassName(), iterations: iter ? (await iter.tensor.data())[0]! : 0, slots: [] };
  for (const w of slots) {
    const cut = w.name.lastIndexOf('/');
    const variable = index.get(w.name.slice(0, cut));
    if (variable === undefined) throw new Error(`optimizer slot ${w.name} belongs to no variable of the phase`);
    const slot = w.name.slice(cut + 1);
    out.slots.push({ variable, slot });
    tensors.set(names.optimizer(variable, slot), storedTensor('F32', [w.tensor.size], await f32(w.tensor)));
  }
  // tfjs's Adam keeps beta1^t, beta2^t as running products; setWeights would recompute them with pow.
  const adam = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  if (!(optimizer instanceof FusedOptimizer) && adam.accBeta1 && adam.accBeta2) out.acc_beta = [(await adam.accBeta1.data())[0]!, (await adam.accBeta2.data())[0]!];
  if (optimizer instanceof FusedOptimizer) tf.dispose(weights.map((w) => w.tensor));
  else iter?.tensor.dispose();
  return out;
}

/** Restores what saveOptimizerState saved into an optimiser of the same class, bound to `variables` (same order and sizes). */
export async function loadOptimizerState(optimizer: tf.Optimizer, variables: readonly tf.Variable[], point: Pick<ResumePoint, 'tensors' | 'file'> & { position: Pick<MidTaskPosition, 'optimizer'> }): Promise<void> {
  const o = point.position.optimizer;
  if (o.class !== optimizer.getClassName()) throw new DataError(`${point.file}: the checkpoint's optimiser is ${o.class}, this phase makes ${optimizer.getClassName()} (another backend?)`, point.file);
  const weights: NamedTensor[] = [{ name: 'iter', tensor: tf.scalar(o.iterations, 'int32') }];
  for (const { variable, slot } of o.slots) {
    const v = variables[variable];
    if (!v) throw new DataError(`${point.file}: optimiser slot of variable ${variable}, the phase has ${variables.length}`, point.file);
    const t = point.tensors.get(names.optimizer(variable, slot));
    if (!t || t.shape[0] !== v.size) throw new DataError(`${point.file}: tensor ${names.optimizer(variable, slot)} is missing or not of ${v.size} values`, point.file);
    weights.push({ name: `${v.name}/${slot}`, tensor: tf.tensor(asFloat32(t), v.shape) });
  }
  await optimizer.setWeights(weights);
  tf.dispose(weights.map((w) => w.tensor));
  const adam = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  if (o.acc_beta && adam.accBeta1 && adam.accBeta2) {
    const [b1, b2] = o.acc_beta;
    tf.tidy(() => {
      adam.accBeta1!.assign(tf.scalar(b1));
      adam.accBeta2!.assign(tf.scalar(b2));
    });
  }
}

/**
 * Everything of the task in progress at a batch boundary: its scores and phase-set masks, its
 * batch-norm statistics, the optimiser's slots, the session's state, and the loop's position.
 */
export async function captureMidTask(backbone: Backbone, loop: LoopState, task: { phases: PhaseRecord[]; transfer?: TaskRecord['transfer'] }): Promise<{ position: MidTaskPosition; tensors: Map<string, StoredTensor> }> {
  const t = loop.task;
  const tensors = new Map<string, StoredTensor>();
  for (const l of backbone.layers) {
    if (l.masks.hasScores(t)) tensors.set(names.scores(l.name), storedTensor('F32', l.shape, await l.masks.readScores(t)));
    const fixed = l.masks.fixedMask(t);
    if (fixed) tensors.set(names.mask(l.name), storedTensor('F32', l.shape, fixed));
  }
  for (const [name, x] of Object.entries((await backbone.taskState?.(t)) ?? {})) tensors.set(`${names.backbone}${name}`, x);
  const optimizer = await saveOptimizerState(loop.optimizer, loop.variables, tensors);
  const session: ComponentState | undefined = await loop.session.saveState?.();
  for (const [name, x] of Object.entries(session?.tensors ?? {})) tensors.set(`${names.session}${name}`, x);
  const { optimizer: _o, variables: _v, session: _s, ...rest } = loop;
  const position: MidTaskPosition = { ...rest, optimizer, phases: task.phases, ...(task.transfer ? { transfer: task.transfer } : {}), ...(session ? { session: session.json ?? null } : {}) };
  return { position, tensors };
}

/**
 * Adds the checkpoint's task in progress to a run restored up to its finished tasks: scores,
 * masks a phase set, batch-norm statistics. Returns where the loop continues.
 */
export function restoreMidTask(ckpt: LoadedCheckpoint, backbone: Backbone): ResumePoint {
  const position = ckpt.manifest.position!;
  const t = position.task;
  if (t !== ckpt.manifest.completed_tasks) throw new DataError(`${ckpt.file}: position.task is ${t + 1}, the checkpoint holds ${ckpt.manifest.completed_tasks} finished task(s)`, ckpt.file);
  const layers = backbone.layers;
  const scores = layers.map((l) => (ckpt.tensors.has(names.scores(l.name)) ? asFloat32(expectTensor(ckpt, names.scores(l.name), 'F32', l.shape)) : undefined));
  const masks = layers.map((l) => (ckpt.tensors.has(names.mask(l.name)) ? asFloat32(expectTensor(ckpt, names.mask(l.name), 'F32', l.shape)) : undefined));
  const bn = taskStateTensors(ckpt.tensors, names.backbone);
  backbone.addTask(t);
  layers.forEach((l, i) => {
    l.masks.add(t, scores[i]);
    if (masks[i]) l.masks.setMask(t, masks[i]!);
  });
  if (backbone.loadTaskState) {
    try {
      backbone.loadTaskState(t, bn);
    } catch (error) {
      throw new DataError(`${ckpt.file}: task in progress: ${(error as Error).message}`, ckpt.file);
    }
  }
  return { position, tensors: ckpt.tensors, file: ckpt.file };
}

/** Restores the optimiser's and the session's state of the phase a mid-task checkpoint stopped in (after the session began). */
export async function resumeLoop(point: ResumePoint, optimizer: tf.Optimizer, session: PhaseSession): Promise<void> {
  await loadOptimizerState(optimizer, session.variables, point);
  if (point.position.session !== undefined) {
    if (!session.loadState) throw new DataError(`${point.file}: it holds state of the "${point.position.phase_name}" phase session, which cannot load state`, point.file);
    await session.loadState({ json: point.position.session, tensors: taskStateTensors(point.tensors, names.session) });
  }
}
