import type * as tf from '@tensorflow/tfjs-core';
import type { Backbone, ComponentState, KnowledgeTransfer, MaskScorer, PhaseSpec, TaskInference, WeightOwnershipPolicy } from './contracts.js';
import type { ResolvedConfig } from './config.js';
import type { Task, TaskStream } from './data.js';
import type { AccuracyMatrix } from './metrics.js';
import type { ExperimentResults, TaskRecord } from './results.js';
import type { RngState } from './rng.js';

export interface PhaseInfo {
  task: Task;
  phase: PhaseSpec;
  /** Position of the phase in the task's recipe (0-based). */
  index: number;
  batchesPerEpoch: number;
}

export interface BatchInfo extends PhaseInfo {
  epoch: number;
  batch: number;
  loss: number;
  /** Training accuracy over this epoch so far. */
  trainAccuracy: number;
  /** Examples per second over this epoch so far. */
  samplesPerSecond: number;
}

export interface EpochInfo extends PhaseInfo {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  /** Test accuracy of the task after this epoch, when `evaluation.each_epoch` is on. */
  testAccuracy?: number;
  samplesPerSecond: number;
  /** Learning rate of the epoch. */
  lr: number;
}

export interface EvalInfo {
  /** Task just trained. */
  afterTask: number;
  /** Accuracy on each task seen so far. */
  accuracies: number[];
}

/** How a run ended. */
export type RunOutcome =
  | { status: 'completed' }
  /** Stopped by `requestStop()` or the AbortSignal at a batch boundary; `task` (1-based) was not finished. */
  | { status: 'interrupted'; task: number; phase: string; epoch: number; batch: number };

/**
 * Where the batch loop stands (the state a mid-task checkpoint needs): the task and phase, the
 * next epoch and batch, the random streams' states and the optimiser. Live while a phase runs.
 */
export interface TrainingPosition {
  task: number;
  /** Position of the phase in the task's recipe, and its kind id. */
  phase: number;
  phaseName: string;
  /** Epoch and batch (0-based) about to run. */
  epoch: number;
  batch: number;
  /** `shuffle`: state before the current epoch's permutation was drawn; `augment`: current state (when augmenting). */
  rng: { shuffle: RngState; augment?: RngState };
  optimizer: tf.Optimizer;
}

/** What observers see of the run: read it, do not change it. */
export interface RunView {
  readonly config: ResolvedConfig;
  /** The run's id (results.json and checkpoint.json carry it). */
  readonly runId: string;
  /** Run directory (results, checkpoints, metrics); undefined when nothing is written. */
  readonly outDir: string | undefined;
  readonly stream: TaskStream;
  readonly backend: string;
  readonly backbone: Backbone;
  readonly scorer: MaskScorer;
  readonly ownership: WeightOwnershipPolicy;
  readonly transfer: KnowledgeTransfer;
  readonly inference: TaskInference;
  /** Tasks finished so far (their masks are final). */
  readonly finishedTasks: number;
  readonly accuracyMatrix: Readonly<AccuracyMatrix>;
  readonly taskRecords: readonly TaskRecord[];
  /** Where the batch loop stands while a phase runs, else undefined. */
  readonly position: Readonly<TrainingPosition> | undefined;
  /** The masks of a task (finished or training), one 0/1 array per layer (copies). */
  masks(task: number): Float32Array[];
  /** The results so far, as results.json holds them. */
  results(): ExperimentResults;
}

type Hook<I> = (info: I, run: RunView) => void | Promise<void>;

/**
 * Kind `observer`: listens to the run. Events follow Avalanche's vocabulary (before/after
 * experiment, task, phase, epoch, batch, evaluation); every hook may be async and is awaited, and
 * gets the read-only RunView as its second argument. Configs name observers in `observers`;
 * results.json, checkpoints, metrics.csv and events.jsonl are written by built-in observers.
 * State (`saveState`/`loadState`) is checkpointed under `observers/<position>`.
 */
export interface Observer {
  readonly id: string;
  beforeExperiment?: Hook<{ stream: TaskStream; backend: string }>;
  afterExperiment?: Hook<{ results: ExperimentResults; outcome: RunOutcome }>;
  beforeTask?: Hook<{ task: Task }>;
  afterTask?: Hook<{ task: Task; record: TaskRecord }>;
  beforePhase?: Hook<PhaseInfo>;
  afterPhase?: Hook<PhaseInfo & { seconds: number; samplesPerSecond: number }>;
  beforeEpoch?: Hook<PhaseInfo & { epoch: number }>;
  afterEpoch?: Hook<EpochInfo>;
  beforeBatch?: Hook<PhaseInfo & { epoch: number; batch: number }>;
  /** Delivered in order once the batch's loss is read (once per ~100 ms of work, and at epoch end). */
  afterBatch?: Hook<BatchInfo>;
  beforeEval?: Hook<{ afterTask: number }>;
  afterEval?: Hook<EvalInfo>;
  saveState?(): ComponentState;
  loadState?(state: ComponentState): void;
}

export type ObserverEvent = Exclude<keyof Observer, 'id' | 'saveState' | 'loadState'>;
export type EventInfo<K extends ObserverEvent> = Parameters<NonNullable<Observer[K]>>[0];

/** Calls hook `event` of every observer in order, awaiting each. */
export async function dispatch<K extends ObserverEvent>(observers: readonly Observer[], event: K, info: EventInfo<K>, run: RunView): Promise<void> {
  for (const o of observers) {
    const fn = o[event] as Hook<EventInfo<K>> | undefined;
    if (typeof fn === 'function') await fn.call(o, info, run);
  }
}
