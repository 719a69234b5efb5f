import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ComponentState, EpochInfo, Observer, PluginManifest, Registry, RunView } from '@supermask/core';

export interface LearningCurveOptions {
  /** File written in the run directory. */
  file: string;
}

/** What this package provides, checked by supermask before anything runs. */
export const manifest: PluginManifest = {
  id: 'learning-curve',
  kind: 'observer',
  core: '^0.1.0',
  description: 'learning_curve.json in the run directory: per task and phase, the loss, train and test accuracy of every epoch',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      file: { type: 'string', pattern: '^[^/\\\\]+\\.json$', default: 'learning_curve.json', description: 'File name in the run directory' },
    },
  },
};

export interface CurvePoint {
  task: number;
  phase: string;
  epoch: number;
  loss: number;
  train_accuracy: number;
  test_accuracy: number | null;
}

/**
 * Collects a point per finished epoch and rewrites the file after every task (so it is complete
 * for every finished task). The points are its state: a resumed run continues the curve.
 */
export class LearningCurveObserver implements Observer {
  readonly id = 'learning-curve';
  points: CurvePoint[] = [];

  constructor(readonly options: LearningCurveOptions) {}

  afterEpoch(info: EpochInfo): void {
    this.points.push({
      task: info.task.index + 1,
      phase: info.phase.name,
      epoch: info.epoch + 1,
      loss: info.loss,
      train_accuracy: info.trainAccuracy,
      test_accuracy: info.testAccuracy ?? null,
    });
  }

  afterTask(_info: unknown, run: RunView): void {
    const finished = run.finishedTasks;
    if (run.outDir) writeFileSync(join(run.outDir, this.options.file), `${JSON.stringify({ finished_tasks: finished, points: this.points.filter((p) => p.task <= finished) }, null, 2)}\n`);
  }

  saveState(): ComponentState {
    return { json: { points: this.points } };
  }

  loadState(state: ComponentState): void {
    this.points = [...(state.json as { points: CurvePoint[] }).points];
  }
}

/** Registers the component described by `manifest`. */
export function register(registry: Registry): void {
  registry.register<LearningCurveObserver, LearningCurveOptions>({
    kind: manifest.kind,
    id: manifest.id,
    description: manifest.description ?? '',
    package: 'supermask-observer-learning-curve',
    schema: manifest.schema,
    create: (options) => new LearningCurveObserver(options),
  });
}
