import type { TaskInference } from '@supermask/core';

/** How well a task inference identified tasks for one strategy, in a named benchmark setting. */
export interface MeasuredReliability {
  /** Fraction of test examples whose batch got the right task id. */
  task_id_accuracy: number;
  /** Where the figure comes from (benchmark command and setting). */
  measured: string;
  /** The bench/results row it comes from (optional). */
  source?: unknown;
}

/** A task inference that declares its measured reliability per strategy id (optional). */
export interface ReliabilityAware {
  readonly knownReliability?: Readonly<Record<string, MeasuredReliability>>;
}

/** Below this task-id accuracy `supermask eval` warns. */
export const RELIABLE_TASK_ID_ACCURACY = 0.9;

/**
 * The warning `supermask eval` prints when `inference` declares a measured task-id accuracy below
 * RELIABLE_TASK_ID_ACCURACY for the run's strategy; undefined otherwise.
 */
export function reliabilityWarning(inference: TaskInference & ReliabilityAware, strategy: string): string | undefined {
  const known = inference.knownReliability?.[strategy];
  if (!known || known.task_id_accuracy >= RELIABLE_TASK_ID_ACCURACY) return undefined;
  return `task inference "${inference.id}" is known to be unreliable with strategy "${strategy}": it identified ${(100 * known.task_id_accuracy).toFixed(1)}% of test batches' tasks (${known.measured}); "exhaustive" is exact (one forward pass per learned task)`;
}
