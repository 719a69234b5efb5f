// npm run bench:lenet — training throughput of LeNet 300-100 on Split Fashion-MNIST
// (configs/split-fmnist-supsup.json: density 0.1, batch 64, Adam lr 0.01), per backend and phase.
// Measures the first task's mask phase over BENCH_SAMPLES training images (default 6400 = 100 steps).
import { Experiment, readConfigFile, resolveConfig } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { fullDataDir, printTable, root, writeResults } from './common.mjs';
import { join } from 'node:path';

const samples = Number(process.env.BENCH_SAMPLES ?? 6400);
const backends = (process.env.BENCH_BACKENDS ?? 'cpu').split(',');
const configFile = join(root, 'configs', 'split-fmnist-supsup.json');
const dataDir = fullDataDir();

const rows = [];
let resolved;
for (const backend of backends) {
  const registry = createRegistry();
  const raw = readConfigFile(configFile);
  raw.stream.options = { ...raw.stream.options, tasks: 1, train_per_task: samples, test_per_task: 500 };
  if (!dataDir) raw.dataset.options = { source: 'embedded' };
  resolved = resolveConfig(raw, registry, { backend, file: configFile });
  const experiment = await Experiment.create({ config: resolved, registry, runOptions: { dataDir } });
  try {
    const record = await experiment.runTask(experiment.stream.tasks[0]);
    for (const phase of record.phases) {
      rows.push({ backend: experiment.backendSelection.backend, phase: phase.name, steps: phase.steps, seconds: phase.seconds, samples_per_second: phase.samples_per_second });
    }
  } finally {
    experiment.dispose();
  }
}
printTable(rows);
writeResults('lenet', { config: resolved, config_file: 'configs/split-fmnist-supsup.json', seed: resolved.seed, samples, data: dataDir ?? 'embedded', rows });
