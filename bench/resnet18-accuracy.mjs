// npm run bench:resnet18-accuracy — do the fused conv + batch-norm units (kernels-ort) train
// ResNet-18 to the same accuracy as the op-by-op path? Runs configs/split-fmnist-resnet18-
// supsup.json (BENCH_CONFIGS: comma-separated config files, default that one and -exssnet.json) for
// each seed of BENCH_SEEDS (default 0,1,2) on each path of BENCH_PATHS (default all three):
// `op-by-op` (SUPERMASK_FUSED_CONV=0), `fused-dense` (the fused units on ONNX Runtime's dense
// sessions, SUPERMASK_SPARSE_CONV=0) and `fused` (the default: sparse WebAssembly units where W * M
// is sparse), backend cpu (= cpu-ort), in one process, and prints average accuracy per seed, the
// mean and standard deviation of each path and of each fused path's difference to op by op. The
// paths agree within 1e-4 per step (backbone-resnet/test/fused.test.ts); over a task the top-k
// selections can part where scores tie within rounding, so single-seed accuracies differ by chance;
// the seeds show by how much. BENCH_PREVIOUS=FILE adds the runs recorded in an earlier result of
// this benchmark for the (config, path) pairs not run now (a result written before the sparse units
// existed calls its dense fused runs `fused`: they are read as `fused-dense`). Writes
// bench/results/resnet18-accuracy.json.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { readConfigFile } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { fullDataDir, mean, printTable, root, runConfig, sd, writeResults } from './common.mjs';

const files = (process.env.BENCH_CONFIGS ?? 'split-fmnist-resnet18-supsup.json,split-fmnist-resnet18-exssnet.json').split(',');
const seeds = (process.env.BENCH_SEEDS ?? '0,1,2').split(',').map(Number);
const ALL_PATHS = [
  { path: 'op-by-op', env: { SUPERMASK_FUSED_CONV: '0' } },
  { path: 'fused-dense', env: { SUPERMASK_FUSED_CONV: '1', SUPERMASK_SPARSE_CONV: '0' } },
  { path: 'fused', env: { SUPERMASK_FUSED_CONV: '1' } },
];
const pathNames = (process.env.BENCH_PATHS ?? ALL_PATHS.map((p) => p.path).join(',')).split(',');
const paths = ALL_PATHS.filter((p) => pathNames.includes(p.path));
if (paths.length !== pathNames.length) throw new Error(`BENCH_PATHS: expected names among ${ALL_PATHS.map((p) => p.path).join(', ')}, got ${process.env.BENCH_PATHS}`);
const dataDir = fullDataDir();
if (!dataDir) {
  console.log('Full Fashion-MNIST not found (../shared/datasets/fashion-mnist or SUPERMASK_DATA): nothing measured.');
  process.exit(0);
}


const runs = [];
const configs = {};
const allFiles = [...files];
if (process.env.BENCH_PREVIOUS) {
  const previous = JSON.parse(readFileSync(process.env.BENCH_PREVIOUS, 'utf8'));
  for (const recorded of previous.runs) {
    const path = !previous.sparse_units && recorded.path === 'fused' ? 'fused-dense' : recorded.path;
    if (files.includes(recorded.config) && pathNames.includes(path)) continue;
    if (!allFiles.includes(recorded.config)) allFiles.unshift(recorded.config);
    runs.push({ ...recorded, path, from: recorded.from ?? process.env.BENCH_PREVIOUS, measured_at: recorded.measured_at ?? previous.date });
    configs[recorded.config] ??= previous.config[recorded.config];
  }
  if (previous.seeds.join(',') !== seeds.join(',')) throw new Error(`BENCH_PREVIOUS ran seeds ${previous.seeds.join(',')}, this run ${seeds.join(',')}`);
}
for (const file of files) {
  for (const seed of seeds) {
    for (const { path, env } of paths) {
      delete process.env.SUPERMASK_SPARSE_CONV;
      Object.assign(process.env, env);
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
delete process.env.SUPERMASK_SPARSE_CONV;

const rows = [];
const summary = [];
const pct = (x) => (100 * x).toFixed(2);
for (const file of allFiles) {
  const of = (path) => runs.filter((r) => r.config === file && r.path === path);
  const present = ALL_PATHS.map((p) => p.path).filter((p) => of(p).length === seeds.length);
  for (const seed of seeds) {
    const row = { config: file.replace(/\.json$/, ''), seed: String(seed) };
    for (const p of present) row[`${p} %`] = pct(of(p).find((r) => r.seed === seed).average_accuracy);
    rows.push(row);
  }
  const s = { config: file, seeds };
  const meanRow = { config: file.replace(/\.json$/, ''), seed: 'mean ± sd' };
  for (const p of present) {
    const xs = of(p).map((r) => 100 * r.average_accuracy);
    s[`${p.replace(/-/g, '_')}_mean`] = mean(xs);
    s[`${p.replace(/-/g, '_')}_sd`] = sd(xs);
    meanRow[`${p} %`] = `${mean(xs).toFixed(2)} ± ${sd(xs).toFixed(2)}`;
  }
  if (present.includes('op-by-op')) {
    for (const p of present.filter((q) => q !== 'op-by-op')) {
      const diffs = seeds.map((seed) => 100 * (of(p).find((r) => r.seed === seed).average_accuracy - of('op-by-op').find((r) => r.seed === seed).average_accuracy));
      s[`${p.replace(/-/g, '_')}_minus_op_by_op_mean`] = mean(diffs);
      s[`${p.replace(/-/g, '_')}_minus_op_by_op_sd`] = sd(diffs);
      meanRow[`${p} - op-by-op (points)`] = `${mean(diffs).toFixed(2)} ± ${sd(diffs).toFixed(2)}`;
    }
  }
  summary.push(s);
  rows.push(meanRow);
}
console.log(`\nResNet-18 (nf 20) on Split Fashion-MNIST: op by op, fused dense and fused sparse units, seeds ${seeds.join(' ')}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
printTable(rows, [...new Set(rows.flatMap((r) => Object.keys(r)))]);
writeResults('resnet18-accuracy', { config: configs, seeds, backend: 'cpu', sparse_units: true, paths: pathNames, rows: summary, runs, load_average_end: os.loadavg() });
