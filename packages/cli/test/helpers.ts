import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry, registerCoreComponents, registerLoggerObservers, Rng, type LabeledDataset } from '@supermask/core';
import { register as registerMlp } from '@supermask/backbone-mlp';
import { register as registerBert } from '@supermask/backbone-bert';
import { register as registerResNet } from '@supermask/backbone-resnet';
import { register as registerDatasets } from '@supermask/datasets';
import { register as registerKkt } from '@supermask/kkt';
import { register as registerExSSNeT } from '@supermask/strategy-exssnet';
import { register as registerSupSup } from '@supermask/strategy-supsup';

/**
 * A small synthetic dataset: `classes` Gaussian blobs in `dims` dimensions (pixels in [0, 1]
 * not required). Separable enough that a masked MLP learns each 2-class task well.
 */
export function blobs(seed: number, classes = 6, dims = 16, perClass = 60, testPerClass = 20): LabeledDataset {
  const rng = new Rng(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: dims }, () => rng.uniform(-1, 1)));
  const make = (count: number) => {
    const n = classes * count;
    const x = new Float32Array(n * dims);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % classes;
      y[i] = c;
      for (let d = 0; d < dims; d++) x[i * dims + d] = centres[c]![d]! + 0.35 * rng.normal();
    }
    return { x, y, n };
  };
  return {
    name: 'blobs',
    inputShape: [dims],
    numClasses: classes,
    classNames: Array.from({ length: classes }, (_, i) => `blob${i}`),
    train: make(perClass),
    test: make(testPerClass),
    normalization: { mean: [0], std: [1] },
    source: 'generated',
  };
}

/** A registry with the built-in packages and the `blobs` test dataset. */
export function testRegistry(): Registry {
  const registry = new Registry();
  registerCoreComponents(registry);
  registerLoggerObservers(registry);
  registerDatasets(registry);
  registerMlp(registry);
  registerResNet(registry);
  registerBert(registry);
  registerSupSup(registry);
  registerExSSNeT(registry);
  registerKkt(registry);
  registry.register({
    kind: 'dataset',
    id: 'blobs',
    description: 'Gaussian blobs (tests)',
    schema: { type: 'object', properties: { seed: { type: 'integer', default: 1 } } },
    create: (options: { seed: number }) => ({ load: async () => blobs(options.seed) }),
  });
  return registry;
}

export const blobsConfig = (overrides: Record<string, unknown> = {}) => ({
  name: 'blobs-supsup',
  seed: 0,
  backend: 'cpu',
  dataset: { id: 'blobs' },
  stream: { id: 'split', options: { tasks: 3, classes_per_task: 2 } },
  backbone: { id: 'lenet', options: { hidden: [32, 16] } },
  strategy: { id: 'supsup', options: { mask_phase: { epochs: 3, lr: 0.05, batch_size: 16 } } },
  mask_scorer: { id: 'topk', options: { density: 0.3 } },
  ...overrides,
});

/** Runs the CLI in this process (`main` of @supermask/cli), capturing its output and exit code. */
export async function cliInProcess(args: string[], env: Record<string, string | undefined> = {}) {
  const { main } = await import('@supermask/cli');
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), isTTY: false, env });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

/** metrics.csv of a run directory without its timing column (samples_per_second), row by row. */
export function metricsRows(dir: string): string[] {
  const [header, ...rows] = readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n');
  const timing = header!.split(',').indexOf('samples_per_second');
  return [header!, ...rows].map((row) => row.split(',').filter((_, i) => i !== timing).join(','));
}
