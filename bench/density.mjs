// npm run bench:density — SupSup vs ExSSNeT on Split Fashion-MNIST (5 tasks x 2 classes, class
// order from seed 1, LeNet, seed 0) at densities 0.02, 0.05 and 0.10.
// SupSup: 2 mask epochs, lr 0.01. ExSSNeT: 2 mask + 2 weight epochs, lr 0.001 in both phases.
// BENCH_TRAIN_PER_TASK limits the training images per task (default: all) for a quick look.
import { join } from 'node:path';
import { readConfigFile } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { fullDataDir, printTable, root, runConfig, writeResults } from './common.mjs';

const densities = (process.env.BENCH_DENSITIES ?? '0.02,0.05,0.1').split(',').map(Number);
const trainPerTask = process.env.BENCH_TRAIN_PER_TASK ? Number(process.env.BENCH_TRAIN_PER_TASK) : undefined;
const backend = process.env.BENCH_BACKEND ?? 'auto';
const dataDir = fullDataDir();
if (!dataDir) {
  console.error('bench:density needs the full Fashion-MNIST: set SUPERMASK_DATA or install dataset-fashion-mnist');
  process.exit(3);
}

const methods = {
  supsup: (raw) => {
    raw.strategy.options.mask_phase = { ...raw.strategy.options.mask_phase, epochs: 2, lr: 0.01 };
  },
  exssnet: (raw) => {
    raw.strategy.options.mask_phase = { ...raw.strategy.options.mask_phase, epochs: 2, lr: 0.001 };
    raw.strategy.options.weight_phase = { ...raw.strategy.options.weight_phase, epochs: 2, lr: 0.001 };
  },
};

const rows = [];
const configs = [];
for (const density of densities) {
  for (const [method, adjust] of Object.entries(methods)) {
    const file = join(root, 'configs', `split-fmnist-${method}.json`);
    const raw = readConfigFile(file);
    raw.seed = 0;
    raw.stream.options = { ...raw.stream.options, class_order: { seed: 1 }, ...(trainPerTask ? { train_per_task: trainPerTask } : {}) };
    raw.mask_scorer = { id: 'topk', options: { density } };
    adjust(raw);
    const { config, results, seconds } = await runConfig(raw, { file, backend, dataDir, createRegistry });
    const row = { method, density, average_accuracy: results.average_accuracy, forgetting: results.forgetting, backend: results.backend, seconds };
    rows.push(row);
    configs.push({ method, density, config });
    console.error(`${method} density ${density}: average accuracy ${(100 * row.average_accuracy).toFixed(2)}%, forgetting ${row.forgetting}, ${row.seconds.toFixed(0)} s`);
  }
}
printTable(rows, ['method', 'density', 'average_accuracy', 'forgetting', 'backend', 'seconds']);
const gains = densities.map((d) => {
  const s = rows.find((r) => r.method === 'supsup' && r.density === d);
  const e = rows.find((r) => r.method === 'exssnet' && r.density === d);
  return { density: d, exssnet_minus_supsup_points: 100 * (e.average_accuracy - s.average_accuracy) };
});
console.log('');
printTable(gains);
writeResults('density', { seed: 0, class_order_seed: 1, train_per_task: trainPerTask ?? 'all', data: dataDir, rows, gains, configs });
