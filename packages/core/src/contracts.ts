import type * as tf from '@tensorflow/tfjs-core';
import type { LabeledDataset, Task, TaskStream } from './data.js';
import type { Rng } from './rng.js';
import type { MaskedLayer } from './layers/masked-layer.js';
import type { StoredTensor } from './safetensors.js';

/** What a component saves in a checkpoint: JSON and named tensors (stored in safetensors). */
export interface ComponentState {
  json?: unknown;
  tensors?: Record<string, StoredTensor>;
}

/** A component whose state must survive a checkpoint (ownership records, stored scores, ...). */
export interface Stateful {
  saveState(): ComponentState;
  /** Restores what saveState returned; throws (naming the tensor) when it does not fit. */
  loadState(state: ComponentState): void;
}

/* ------------------------------------------------------------------ data */

/** Kind `dataset`: loads a labelled dataset from disk or from the embedded copy. */
export interface DatasetLoader {
  load(): Promise<LabeledDataset>;
}

/** Kind `stream`: turns a dataset into a sequence of tasks (labels remapped per task). */
export interface StreamBuilder {
  build(dataset: LabeledDataset, rng: Rng): TaskStream;
}

/* ------------------------------------------------------------- network */

/**
 * How a forward pass gets each masked layer's effective weight. The runner builds one per use:
 * trainable scores with a straight-through mask (mask phase), a fixed cached mask (weight phase,
 * evaluation), or a superposition of masks (task inference).
 */
export interface ForwardContext {
  /** Task whose per-task state (batch-norm statistics, head) the pass uses. */
  task: number;
  /** Training mode: batch-norm uses batch statistics and updates the task's running ones. */
  training: boolean;
  /** The effective weight (W * mask) of a masked layer for this pass. */
  weight(layer: MaskedLayer): tf.Tensor;
  /**
   * Per-task normalisation does not apply (a superposition of several tasks' masks): batch norm
   * uses the batch's own statistics and updates nothing.
   */
  batchStatistics?: boolean;
  /**
   * The 0/1 tensor (the layer's shape) by which the gradient reaching this layer's effective
   * weight is multiplied before it reaches a trained weight (a weight phase: the task's mask times
   * the weights the task may change), when there is one. A kernel may then compute that gradient
   * only where the tensor is 1 (the sparse units of @supermask/kernels-ort do).
   */
  gradientMask?(layer: MaskedLayer): tf.Tensor | undefined;
}

/** Kind `backbone`: a network built from masked layers. */
export interface Backbone {
  readonly id: string;
  /** Every masked layer, in forward order. */
  readonly layers: readonly MaskedLayer[];
  /** Creates the per-task state of task `task` (batch-norm statistics). Scores are added by the runner. */
  addTask(task: number): void;
  /** Called once task `task` is trained: freezes its per-task state (batch-norm statistics). */
  finishTask?(task: number): void;
  /** Per-task state besides masks (batch-norm statistics) as tensors, for checkpoints and exports; may read the device asynchronously. */
  taskState?(task: number): Record<string, StoredTensor> | Promise<Record<string, StoredTensor>>;
  /** Restores what taskState returned for a task (after addTask). */
  loadTaskState?(task: number, tensors: Record<string, StoredTensor>): void;
  /** Logits, shape [batch, numClasses]. `x` has shape [batch, ...inputShape]. */
  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor2D;
  /** Penultimate features, shape [batch, featureSize] (used by knowledge transfer). */
  features(x: tf.Tensor, ctx: ForwardContext): tf.Tensor2D;
  /** A JSON description of the architecture (recorded in results and exports). */
  describe(): Record<string, unknown>;
  dispose(): void;
}

/** Everything a backbone factory needs to know about the stream it will learn. */
export interface BackboneSpec {
  inputShape: number[];
  /** Classes the stream labels with (labels are 0..numClasses-1). */
  numClasses: number;
  /**
   * Width of the output layer: numClasses plus the config's superfluous outputs
   * (`outputs.superfluous`). Backbones size their head with this; only the first numClasses
   * outputs are ever predicted.
   */
  numOutputs: number;
}

/* ----------------------------------------------------------- masks */

/** Kind `mask_scorer`: turns per-task real-valued scores into a binary mask. */
export interface MaskScorer {
  readonly id: string;
  /** Fraction of each layer's weights kept, one entry per layer (uniform or ER allocation). */
  densities(layers: readonly LayerShape[]): number[];
  /** Initial scores of a new task for one layer; a scorer without it gives tasks no scores (masks set by phases). */
  initScores?(layer: LayerShape, rng: Rng): Float32Array;
  /** Binary mask of `scores` (no gradient), as 0/1 floats. */
  maskValues(scores: Float32Array, density: number): Float32Array;
  /** Binary mask of `scores` with a straight-through gradient to the scores. */
  maskWithGradient(scores: tf.Variable | tf.Tensor, density: number): tf.Tensor;
  /**
   * Optional: the effective weight `weight` * mask of `scores` with the straight-through gradient
   * to the scores only (the weight gets none: used while the weight is not trainable), the same
   * values and gradient as multiplying `maskWithGradient`'s mask, in fewer ops (edge-popup's
   * dL/dS = dL/d(W * M) * W * sign(S) in one pass: `straightThroughProduct`).
   */
  weightWithGradient?(weight: tf.Tensor, scores: tf.Variable | tf.Tensor, density: number): tf.Tensor;
  /**
   * The same mask as `maskValues`, computed by tensor ops where the scores live (no read back);
   * used on GPU backends (`onDevice()`). Scorers without it are read back once per mask.
   */
  maskTensor?(scores: tf.Tensor, density: number): tf.Tensor;
}

export interface LayerShape {
  name: string;
  shape: number[];
  fanIn: number;
  fanOut: number;
  size: number;
}

/* -------------------------------------------------- weight ownership */

/** Kind `ownership_policy`: which weights a task may change, and who owns what. */
export interface WeightOwnershipPolicy {
  readonly id: string;
  /** True when the policy lets a task change any weights at all (a weight phase makes sense). */
  readonly allowsWeightTraining: boolean;
  /**
   * 0/1 per weight of `layer`: 1 where task `task` may change the weight in its weight phase.
   * `mask` is the task's (fixed) binary mask for the layer.
   */
  editable(layerIndex: number, task: number, mask: Float32Array): Float32Array | null;
  /**
   * Called once a task is finished, with its final masks (one per layer, in `layers` order), to
   * record ownership. Returns the task's ownership figures for results.json (tasks[t].ownership).
   */
  recordTask(task: number, masks: readonly Float32Array[], layers: readonly LayerShape[]): Record<string, unknown> | undefined;
  /** Ownership figures of the whole run for results.json (`ownership`). */
  report(): OwnershipReport | undefined;
  /** Checkpoint support (owners of every weight). */
  saveState?(): ComponentState;
  loadState?(state: ComponentState): void;
}

export interface OwnershipReport {
  [key: string]: unknown;
}

/* ------------------------------------------------ knowledge transfer */

export interface TransferContext {
  task: Task;
  /** Tasks finished so far (0..task.index-1). */
  earlier: readonly Task[];
  backbone: Backbone;
  rng: Rng;
  /** Forward context with task j's fixed mask and state. */
  fixedContext(task: number): ForwardContext;
  /** Scores of the new task for every layer (earlier tasks' scores are released once they finish). */
  scoresOf(task: number): Float32Array[];
  /** Overwrites task `task`'s scores. */
  setScores(task: number, scores: Float32Array[]): void;
}

/** Kind `knowledge_transfer`: initialises a new task's scores before its mask phase. */
export interface KnowledgeTransfer {
  readonly id: string;
  /** Returns a JSON record of what it did (stored in results.json under tasks[t].transfer). */
  beforeTask(ctx: TransferContext): Promise<Record<string, unknown> | undefined>;
  /**
   * Called when a task is finished, with its final scores, right before the layers release them
   * (only its bit-packed mask is kept). A transfer that needs earlier scores keeps its own copy.
   */
  taskFinished?(task: number, scores: readonly Float32Array[]): void;
  /** Checkpoint support (the kept scores). */
  saveState?(): ComponentState;
  loadState?(state: ComponentState): void;
}

/* --------------------------------------------------- task inference */

export interface InferenceContext {
  /** Tasks learned so far (candidates are 0..learned-1). */
  learned: number;
  backbone: Backbone;
  fixedContext(task: number): ForwardContext;
  /** Context of the superposition W * sum_i alpha_i M_{candidates[i]}; each layer's mix is computed once per context (see contexts.ts). */
  superposition(candidates: readonly number[], alpha: tf.Tensor1D): ForwardContext;
}

/** How well a task inference identified tasks for one strategy, in a named benchmark setting. */
export interface MeasuredReliability {
  /** Fraction of test examples whose batch got the right task id. */
  task_id_accuracy: number;
  /** Where the figure comes from (benchmark command and setting). */
  measured: string;
  /** The benchmark result it comes from (e.g. a row of bench/results), optional. */
  source?: unknown;
}

/** Kind `task_inference`: which task a test batch belongs to. */
export interface TaskInference {
  readonly id: string;
  /** True when the task id comes from the data (no inference). */
  readonly usesTaskId: boolean;
  /** Test batch size the inference works on (each batch gets one task id). */
  readonly batchSize?: number;
  /** True when the method is only reliable with superfluous outputs; the runner warns when a run has none. */
  readonly wantsSuperfluousOutputs?: boolean;
  /** Measured task-id accuracy per strategy id where it is known; runs and `supermask eval` warn below RELIABLE_TASK_ID_ACCURACY. */
  readonly knownReliability?: Readonly<Record<string, MeasuredReliability>>;
  /** Task index for a batch; `given` is the true task id, used only by the oracle. */
  infer(x: tf.Tensor, given: number, ctx: InferenceContext): number | Promise<number>;
  /**
   * Optional: learns what the method needs from a finished task's training split (e.g. input
   * statistics; kept through saveState/loadState). The run calls it after each task's phases;
   * `Experiment.evaluateTaskInference` calls it for every learned task `hasLearned` denies (a
   * component built for evaluation, or a checkpoint saved without it), from the stream's data.
   */
  learnTask?(task: Task): void | Promise<void>;
  /** Whether `learnTask` has seen task `task` (required with learnTask). */
  hasLearned?(task: number): boolean;
}

/* ---------------------------------------------------------- strategy */

export type OptimizerName = 'adam' | 'sgd' | 'rmsprop';
export type ScheduleName = 'constant' | 'cosine';

/** Options of one training phase, as written in configs. */
export interface PhaseOptions {
  epochs: number;
  optimizer: OptimizerName;
  lr: number;
  momentum: number;
  schedule: ScheduleName;
  batch_size: number;
}

/** One phase of a task's recipe: which phase kind runs, with the loop's options and the kind's own. */
export interface PhaseSpec extends PhaseOptions {
  /** Id of a registered component of kind `phase` (built in: `mask`, `weight`). */
  name: string;
  /** Options of the phase kind (validated against its schema when the phase starts). */
  options?: Record<string, unknown>;
}

/** Default component references that a strategy (a recipe) brings. */
export interface StrategyDefaults {
  'mask_scorer': { id: string; options?: Record<string, unknown> };
  'ownership_policy': { id: string; options?: Record<string, unknown> };
  'knowledge_transfer'?: { id: string; options?: Record<string, unknown> };
  'task_inference'?: { id: string; options?: Record<string, unknown> };
}

/** Kind `strategy`: the recipe that composes scorer, ownership, transfer and inference. */
export interface Strategy {
  readonly id: string;
  /** Phases of task `task`, in order (phase kinds by id, with options). */
  phases(task: Task): PhaseSpec[];
}

export type { PhaseKind, PhaseSession, PhaseSetup } from './phase-kind.js';
export type { Observer, RunView, PhaseInfo, BatchInfo, EpochInfo, EvalInfo, TrainingPosition } from './observer.js';
