import type { ResolvedConfig } from './config.js';
import { accuracyMatrixCsv, averageAccuracy, backwardTransfer, forgetting, type AccuracyMatrix } from './metrics.js';
import type { RunOutcome, RunView } from './observer.js';
import { runFiles } from './run-files.js';
import { versions } from './versions.js';

/** The records of a run and results.json. */

export interface PhaseRecord {
  /** Phase kind id. */
  name: string;
  epochs: number;
  optimizer: string;
  lr: number;
  schedule: string;
  batch_size: number;
  steps: number;
  seconds: number;
  samples_per_second: number;
  final_loss: number | null;
  train_accuracy: number | null;
  /** Test accuracy of the task after each epoch (with `evaluation.each_epoch`). */
  epoch_accuracy?: number[];
}

export interface TaskRecord {
  index: number;
  name: string;
  classes: number[];
  train_examples: number;
  test_examples: number;
  phases: PhaseRecord[];
  transfer?: Record<string, unknown>;
  ownership?: Record<string, unknown>;
  evaluation_seconds: number;
  /** Time of the batch-norm statistics pass with the final mask (backbones with batch norm). */
  batch_norm_recalibration_seconds?: number;
  /** Bytes kept for the finished task: bit-packed masks and per-task backbone state (batch norm). */
  state_bytes: { masks: number; backbone: number; total: number };
  /** Size of the checkpoint written after the task (all tasks so far), when checkpoints are on. */
  checkpoint_bytes?: number;
}

export interface TaskInferenceRecord {
  task: number;
  /** Fraction of the task's test examples whose batch was assigned the right task. */
  task_id_accuracy: number;
  /** Accuracy when each batch is predicted with the inferred task's mask. */
  accuracy_inferred: number;
  /** Accuracy with the true task id. */
  accuracy_true: number;
  seconds: number;
}

export interface TaskInferenceSummary {
  method: string;
  batch_size: number;
  task_id_accuracy: number;
  /** Mean over tasks of accuracy_inferred. */
  average_accuracy: number;
  /** Mean over tasks of accuracy_true. */
  average_accuracy_true: number;
  tasks: TaskInferenceRecord[];
}

export interface ExperimentResults {
  format_version: 1;
  /** Random id of the run, also in every checkpoint.json of its directory. */
  run_id: string;
  name: string;
  config: ResolvedConfig;
  seed: number;
  backend: string;
  backend_module?: string;
  versions: Record<string, string>;
  dataset: { name: string; source: string };
  stream: { name: string; tasks: number; input_shape: number[]; num_classes: number };
  backbone: Record<string, unknown>;
  densities: Record<string, number>;
  accuracy_matrix: AccuracyMatrix;
  average_accuracy: number;
  forgetting: number;
  backward_transfer: number;
  tasks: TaskRecord[];
  ownership?: unknown;
  /** Evaluation without task ids at the end of the run (when task_inference is not the oracle). */
  task_inference?: TaskInferenceSummary;
  /** How the run ended (absent in results written before outcomes existed). */
  outcome?: RunOutcome;
  /** Set when the run continued from a checkpoint. */
  resumed_from?: { dir: string; completed_tasks: number };
  started_at: string;
  finished_at: string;
  wall_time_seconds: number;
}


/** What results() needs besides the view. */
export interface ResultsSources {
  backendModule?: string;
  dataset: { name: string; source: string };
  startedAt: Date;
  inference?: TaskInferenceSummary;
  resumedFrom?: { dir: string; completed_tasks: number };
  outcome?: RunOutcome;
}

/** The results so far, as written to results.json. */
export function buildResults(run: Omit<RunView, 'results' | 'masks' | 'position'>, src: ResultsSources): ExperimentResults {
  const finished = new Date();
  const densities: Record<string, number> = {};
  for (const l of run.backbone.layers) densities[l.name] = l.density;
  const ownership = run.ownership.report();
  const matrix = run.accuracyMatrix as AccuracyMatrix;
  return {
    format_version: 1,
    run_id: run.runId,
    name: run.config.name,
    config: run.config,
    seed: run.config.seed,
    backend: run.backend,
    ...(src.backendModule ? { backend_module: src.backendModule } : {}),
    versions: versions(),
    dataset: src.dataset,
    stream: { name: run.stream.name, tasks: run.stream.tasks.length, input_shape: run.stream.inputShape, num_classes: run.stream.numClasses },
    backbone: run.backbone.describe(),
    densities,
    accuracy_matrix: matrix,
    average_accuracy: averageAccuracy(matrix),
    forgetting: forgetting(matrix),
    backward_transfer: backwardTransfer(matrix),
    tasks: run.taskRecords as TaskRecord[],
    ...(ownership ? { ownership } : {}),
    ...(src.inference ? { task_inference: src.inference } : {}),
    ...(src.outcome ? { outcome: src.outcome } : {}),
    ...(src.resumedFrom ? { resumed_from: src.resumedFrom } : {}),
    started_at: src.startedAt.toISOString(),
    finished_at: finished.toISOString(),
    wall_time_seconds: (finished.getTime() - src.startedAt.getTime()) / 1000,
  };
}

/** Writes results.json and accuracy_matrix.csv into `dir` (each atomically; see RunFiles). */
export function writeResults(dir: string, results: ExperimentResults): void {
  const files = runFiles();
  files.write(dir, 'results.json', `${JSON.stringify(results, null, 2)}\n`);
  files.write(dir, 'accuracy_matrix.csv', accuracyMatrixCsv(results.accuracy_matrix));
}
