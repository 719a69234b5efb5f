import { Experiment, resolveConfig, type Backbone, type ExperimentResults, type Registry } from '@supermask/core';
import { testRegistry } from '../../cli/test/helpers.js';

/** Config of SupSup on 3 permuted Fashion-MNIST tasks (embedded data, `train_per_task` images each); `extra` adds or replaces fields. */
export function permutedConfig(extra: Record<string, unknown>, registry: Registry, trainPerTask = 1500) {
  return resolveConfig(
    {
      name: 'inference',
      seed: 0,
      backend: 'cpu',
      dataset: { id: 'fashion-mnist' },
      stream: { id: 'permuted', options: { tasks: 3, train_per_task: trainPerTask, test_per_task: 256 } },
      backbone: { id: 'lenet', options: { hidden: [100, 50] } },
      strategy: { id: 'supsup', options: { mask_phase: { epochs: 1, lr: 0.01, batch_size: 64 } } },
      mask_scorer: { id: 'topk', options: { density: 0.1 } },
      ...extra,
    },
    registry,
  );
}

/** SupSup on 3 permuted Fashion-MNIST tasks (embedded data), trained; `extra` adds config fields. */
export async function trainPermuted(extra: Record<string, unknown>, registry: Registry = testRegistry()): Promise<{ experiment: Experiment; results: ExperimentResults }> {
  const config = permutedConfig(extra, registry);
  const e = await Experiment.create({ config, registry });
  return { experiment: e, results: await e.run() };
}


/** Runs `body` with `backbone.forward` counted: `calls()` is the number of forward passes since the last `reset()`. */
export async function countingForwardPasses(backbone: Backbone, body: (calls: () => number, reset: () => void) => Promise<void>): Promise<void> {
  const forward = backbone.forward.bind(backbone);
  let calls = 0;
  backbone.forward = (x, ctx) => {
    calls++;
    return forward(x, ctx);
  };
  try {
    await body(
      () => calls,
      () => {
        calls = 0;
      },
    );
  } finally {
    backbone.forward = forward;
  }
}
