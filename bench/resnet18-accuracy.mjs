// npm run bench:resnet18-accuracy — does the fused conv + batch-norm path (kernels-ort units)
// train ResNet-18 to the same accuracy as the op-by-op path? Runs configs/split-fmnist-resnet18-
// supsup.json (BENCH_CONFIGS: comma-separated config files, default that one and -exssnet.json) for
// each seed of BENCH_SEEDS (default 0,1,2) on both paths (SUPERMASK_FUSED_CONV=0 for op by op),
// backend cpu (= cpu-ort), in one process, and prints average accuracy per seed, the mean and
// standard deviation of each path and of their difference. The two paths agree within 1e-4 per
// step (backbone-resnet/test/fused.test.ts); over a task the top-k selections can part where
// scores tie within rounding, so single-seed accuracies differ by chance; the seeds show by how
// much. BENCH_PREVIOUS=FILE adds the runs recorded in an earlier result of this benchmark (for
// configs not run now) to the table. Writes bench/results/resnet18-accuracy.json.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { readConfigFile } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { fullDataDir, printTable, root, runConfig, writeResults } from './common.mjs';

const files = (process.env.BENCH_CONFIGS ?? 'split-fmnist-resnet18-supsup.json,split-fmnist-resnet18-exssnet.json').split(',');
const seeds = (process.env.BENCH_SEEDS ?? '0,1,2').split(',').map(Number);
const paths = [
  { path: 'op-by-op', fused: '0' },
  { path: 'fused', fused: '1' },
];
const dataDir = fullDataDir();
if (!dataDir) {
  console.log('Full Fashion-MNIST not found (../shared/datasets/fashion-mnist or SUPERMASK_DATA): nothing measured.');
  process.exit(0);
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));

const runs = [];
const configs = {};
const allFiles = [...files];
if (process.env.BENCH_PREVIOUS) {
  const previous = JSON.parse(readFileSync(process.env.BENCH_PREVIOUS, 'utf8'));
  for (const run of previous.runs) {
    if (files.includes(run.config)) continue;
    if (!allFiles.includes(run.config)) allFiles.unshift(run.config);
    runs.push({ ...run, from: process.env.BENCH_PREVIOUS, measured_at: previous.date });
    configs[run.config] = previous.config[run.config];
  }
  if (previous.seeds.join(',') !== seeds.join(',')) throw new Error(`BENCH_PREVIOUS ran seeds ${previous.seeds.join(',')}, this run ${seeds.join(',')}`);
}
for (const file of files) {
  for (const seed of seeds) {
    for (const { path, fused } of paths) {
      process.env.SUPERMASK_FUSED_CONV = fused;
      const raw = readConfigFile(join(root, 'configs', file));
      raw.seed = seed;
      const load = os.loadavg()[0];
      const { config, results, seconds } = await runConfig(raw, { file: join(root, 'configs', file), backend: 'cpu', dataDir, createRegistry });
      configs[file] = { file: `configs/${file}`, config: { ...config, seed: undefined } };
      const run = { config: file, seed, path, backend: results.backend, average_accuracy: results.average_accuracy, final_accuracies: results.accuracy_matrix.at(-1), forgetting: results.forgetting, seconds, load_average: load };
      runs.push(run);
      console.log(`${file} seed ${seed} ${path}: ${(100 * run.average_accuracy).toFixed(2)}% in ${seconds.toFixed(0)} s (load ${load.toFixed(1)})`);
    }
  }
}
delete process.env.SUPERMASK_FUSED_CONV;

const rows = [];
const summary = [];
for (const file of allFiles) {
  const of = (path) => runs.filter((r) => r.config === file && r.path === path);
  const diffs = seeds.map((seed) => {
    const a = of('fused').find((r) => r.seed === seed).average_accuracy;
    const b = of('op-by-op').find((r) => r.seed === seed).average_accuracy;
    rows.push({ config: file.replace(/\.json$/, ''), seed: String(seed), 'op-by-op %': (100 * b).toFixed(2), 'fused %': (100 * a).toFixed(2), 'fused - op-by-op (points)': (100 * (a - b)).toFixed(2) });
    return 100 * (a - b);
  });
  const op = of('op-by-op').map((r) => 100 * r.average_accuracy);
  const fu = of('fused').map((r) => 100 * r.average_accuracy);
  const s = { config: file, seeds, op_by_op_mean: mean(op), op_by_op_sd: sd(op), fused_mean: mean(fu), fused_sd: sd(fu), difference_mean: mean(diffs), difference_sd: sd(diffs) };
  summary.push(s);
  rows.push({ config: file.replace(/\.json$/, ''), seed: 'mean ± sd', 'op-by-op %': `${s.op_by_op_mean.toFixed(2)} ± ${s.op_by_op_sd.toFixed(2)}`, 'fused %': `${s.fused_mean.toFixed(2)} ± ${s.fused_sd.toFixed(2)}`, 'fused - op-by-op (points)': `${s.difference_mean.toFixed(2)} ± ${s.difference_sd.toFixed(2)}` });
}
console.log(`\nResNet-18 (nf 20) on Split Fashion-MNIST: fused units vs op by op, seeds ${seeds.join(' ')}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
printTable(rows);
writeResults('resnet18-accuracy', { config: configs, seeds, backend: 'cpu', rows: summary, runs, load_average_end: os.loadavg() });
