import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Experiment, Registry, registerCoreComponents, resolveConfig } from '@supermask/core';
import { register as registerMlp } from '@supermask/backbone-mlp';
import { register as registerDatasets } from '@supermask/datasets';
import { register as registerKkt } from '@supermask/kkt';
import { register as registerExSSNeT } from '@supermask/strategy-exssnet';
import { register as registerSupSup } from '@supermask/strategy-supsup';

/**
 * Real runs for the report tests: the runner on the embedded Fashion-MNIST subset, 3 tasks of
 * 2 classes with 300 training and 100 test images each, a small LeNet. A few seconds in all.
 */

function registry(): Registry {
  const r = new Registry();
  registerCoreComponents(r);
  registerDatasets(r);
  registerMlp(r);
  registerSupSup(r);
  registerExSSNeT(r);
  registerKkt(r);
  return r;
}

const phase = { epochs: 1, optimizer: 'adam', lr: 0.01, batch_size: 50 };

function baseConfig(name: string) {
  return {
    name,
    seed: 0,
    backend: 'cpu',
    dataset: { id: 'fashion-mnist', options: { source: 'embedded' } },
    stream: { id: 'split', options: { tasks: 3, classes_per_task: 2, train_per_task: 300, test_per_task: 100 } },
    backbone: { id: 'lenet', options: { hidden: [64, 32] } },
    mask_scorer: { id: 'topk', options: { density: 0.2 } },
    checkpoint: { enabled: false },
  };
}

/** SupSup, evaluated without task ids at the end (one-shot task inference). */
export const SUPSUP_CONFIG = {
  ...baseConfig('report-test-supsup'),
  strategy: { id: 'supsup', options: { mask_phase: phase } },
  task_inference: { id: 'oneshot' },
};

/** ExSSNeT with KKT knowledge transfer. */
export const EXSSNET_KKT_CONFIG = {
  ...baseConfig('report-test-exssnet-kkt'),
  strategy: { id: 'exssnet', options: { mask_phase: phase, weight_phase: { ...phase, lr: 0.001 } } },
  knowledge_transfer: { id: 'kkt', options: { k: 10 } },
};

/** Runs `config` and writes its results.json (and accuracy_matrix.csv) into `dir`. */
export async function runInto(config: unknown, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const reg = registry();
  const experiment = await Experiment.create({ config: resolveConfig(config, reg), registry: reg, outDir: dir });
  try {
    await experiment.run();
  } finally {
    experiment.dispose();
  }
  return dir;
}

/** A SupSup run and an ExSSNeT+KKT run under `root`. */
export async function makeRuns(root: string): Promise<{ supsup: string; exssnet: string }> {
  const supsup = await runInto(SUPSUP_CONFIG, join(root, 'supsup'));
  const exssnet = await runInto(EXSSNET_KKT_CONFIG, join(root, 'exssnet-kkt'));
  return { supsup, exssnet };
}
