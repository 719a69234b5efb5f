import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Experiment, Registry, registerCoreComponents, resolveConfig } from '@supermask/core';
import { register as registerDatasets } from '@supermask/datasets';
import { register as registerMlp } from '@supermask/backbone-mlp';
import { register as registerResNet } from '@supermask/backbone-resnet';
import { register as registerSupSup } from '@supermask/strategy-supsup';

export function registry(): Registry {
  const r = new Registry();
  registerCoreComponents(r);
  registerDatasets(r);
  registerMlp(r);
  registerResNet(r);
  registerSupSup(r);
  return r;
}

const base = {
  seed: 5,
  backend: 'cpu-plain',
  dataset: { id: 'fashion-mnist', options: { source: 'embedded' } },
  stream: { id: 'split', options: { tasks: 2, classes_per_task: 2, train_per_task: 64, test_per_task: 40 } },
  strategy: { id: 'supsup', options: { mask_phase: { epochs: 1, lr: 0.01, batch_size: 32 } } },
  mask_scorer: { id: 'topk', options: { density: 0.2 } },
};

/** LeNet with superfluous outputs (the export drops them from the head). */
export const LENET = { backbone: { id: 'lenet', options: { hidden: [32, 16] } }, outputs: { superfluous: 3 } };

/**
 * A tiny ResNet-18 with per-task batch norm. No training epochs (convolution gradients are slow
 * on the pure-JS backend): each task's masks come from its own random scores and its batch-norm
 * statistics from the recalibration pass.
 */
export const RESNET = {
  backbone: { id: 'resnet18', options: { nf: 4 } },
  strategy: { id: 'supsup', options: { mask_phase: { epochs: 0, lr: 0.01, batch_size: 32 } } },
  batch_norm: { recalibration_examples: 64, batch_size: 32 },
};

/** Runs a small experiment on the embedded Fashion-MNIST; returns the run and task `task`'s test split and accuracy. */
export async function trainRun(name: string, config: Record<string, unknown>, task: number) {
  const reg = registry();
  const dir = mkdtempSync(join(tmpdir(), `supermask-export-${name}-`));
  const run = join(dir, 'run');
  const experiment = await Experiment.create({ config: resolveConfig({ name, ...base, ...config }, reg), registry: reg, outDir: run });
  let accuracy: number;
  try {
    accuracy = (await experiment.run()).accuracy_matrix.at(-1)![task]!;
  } finally {
    experiment.dispose();
  }
  const resumed = await Experiment.resume(run, { registry: reg });
  const t = resumed.stream.tasks[task]!;
  const test = { x: t.test.x, y: t.test.y, n: t.test.n, classes: t.classes };
  const shape = [t.test.n, ...t.inputShape];
  resumed.dispose();
  return { dir, run, registry: reg, accuracy, test, shape };
}
