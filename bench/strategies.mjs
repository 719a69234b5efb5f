// npm run bench:strategies — SupSup, ExSSNeT, WSN, WSN + KKT and PackNet on Split Fashion-MNIST
// (5 tasks x 2 classes, configs/split-fmnist-*.json, LeNet 300-100) at capacity per task 0.05 and
// 0.1 (the mask density for the mask methods, `kept_fraction` for PackNet), seeds 0, 1, 2 (the seed
// drives initialisation and shuffling). Per method and capacity: average accuracy (mean and sd over
// seeds), forgetting (max over seeds; exactly 0 for every method), capacity used after the last
// task (fraction of the network's weights owned by some task, mean over seeds) and seconds per task.
// Epoch budgets: SupSup 2 mask epochs (lr 0.01); ExSSNeT 2 mask + 2 weight epochs (lr 0.001);
// WSN 2 epochs of scores and weights together (lr 0.001); PackNet 2 train + 1 retrain epochs (lr
// 0.001); WSN and PackNet from Kaiming-normal weights, SupSup and ExSSNeT from signed constants.
// BENCH_SEEDS, BENCH_CAPACITIES, BENCH_METHODS select runs; BENCH_TRAIN_PER_TASK limits the training
// images per task (default: all 12,000) and is written into the results and the printed title.
// BENCH_RESULTS names the results file (default strategies: bench/results/strategies.json).
// BENCH_COMBINE=a,b builds the table from the runs already recorded in bench/results/a.json and
// b.json (e.g. seeds run on different days or machines) instead of training: same configs required.
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readConfigFile } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { fullDataDir, mean, printTable, root, runConfig, sd, writeResults } from './common.mjs';

const seeds = (process.env.BENCH_SEEDS ?? '0,1,2').split(',').map(Number);
const capacities = (process.env.BENCH_CAPACITIES ?? '0.05,0.1').split(',').map(Number);
const trainPerTask = process.env.BENCH_TRAIN_PER_TASK ? Number(process.env.BENCH_TRAIN_PER_TASK) : undefined;
const backend = process.env.BENCH_BACKEND ?? 'auto';
const dataDir = fullDataDir();
if (!dataDir) {
  console.error('bench:strategies needs the full Fashion-MNIST: set SUPERMASK_DATA or install dataset-fashion-mnist');
  process.exit(3);
}

/** Each method: its config file and how the capacity per task is set. */
const density = (raw, capacity) => void (raw.mask_scorer = { ...raw.mask_scorer, options: { ...raw.mask_scorer.options, density: capacity } });
const allMethods = {
  supsup: {
    file: 'split-fmnist-supsup.json',
    adjust: (raw, capacity) => {
      density(raw, capacity);
      raw.strategy.options.mask_phase = { ...raw.strategy.options.mask_phase, epochs: 2, lr: 0.01 };
    },
  },
  exssnet: {
    file: 'split-fmnist-exssnet.json',
    adjust: (raw, capacity) => {
      density(raw, capacity);
      raw.strategy.options.mask_phase = { ...raw.strategy.options.mask_phase, epochs: 2, lr: 0.001 };
      raw.strategy.options.weight_phase = { ...raw.strategy.options.weight_phase, epochs: 2, lr: 0.001 };
    },
  },
  wsn: { file: 'split-fmnist-wsn.json', adjust: density },
  'wsn+kkt': { file: 'split-fmnist-wsn-kkt.json', adjust: density },
  packnet: { file: 'split-fmnist-packnet.json', adjust: (raw, capacity) => void (raw.strategy.options.kept_fraction = capacity) },
};
const methods = (process.env.BENCH_METHODS ?? Object.keys(allMethods).join(',')).split(',');
for (const m of methods) if (!allMethods[m]) throw new Error(`BENCH_METHODS: unknown method "${m}" (known: ${Object.keys(allMethods).join(', ')})`);

const loadAtStart = os.loadavg();
const title = `Split Fashion-MNIST 5 x 2, LeNet 300-100, ${trainPerTask ? `${trainPerTask} training images per task (BENCH_TRAIN_PER_TASK)` : 'all 12,000 training images per task'}`;
console.error(`${title}; seeds ${seeds.join(' ')}; load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} cores`);

const runs = [];
const configs = [];
const combine = process.env.BENCH_COMBINE?.split(',');
if (combine) {
  for (const name of combine) {
    const recorded = JSON.parse(readFileSync(join(root, 'bench', 'results', `${name}.json`), 'utf8'));
    if ((recorded.train_per_task ?? 'all') !== (trainPerTask ?? 'all')) throw new Error(`BENCH_COMBINE: ${name}.json used train_per_task ${recorded.train_per_task}, this run ${trainPerTask ?? 'all'}`);
    for (const run of recorded.runs) if (methods.includes(run.method) && capacities.includes(run.density) && seeds.includes(run.seed)) runs.push(run);
    for (const c of recorded.configs) if (!configs.some((k) => k.method === c.method && k.capacity === c.capacity)) configs.push(c);
  }
  for (const capacity of capacities) for (const method of methods) for (const seed of seeds) {
    if (!runs.some((r) => r.method === method && r.density === capacity && r.seed === seed)) throw new Error(`BENCH_COMBINE: no recorded run of ${method} at ${capacity}, seed ${seed}`);
  }
}
for (const capacity of combine ? [] : capacities) {
  for (const method of methods) {
    const { file, adjust } = allMethods[method];
    for (const seed of seeds) {
      const path = join(root, 'configs', file);
      const raw = readConfigFile(path);
      raw.seed = seed;
      if (trainPerTask) raw.stream.options = { ...raw.stream.options, train_per_task: trainPerTask };
      adjust(raw, capacity);
      const { config, results, seconds } = await runConfig(raw, { file: path, backend, dataDir, createRegistry });
      if (seed === seeds[0]) configs.push({ method, capacity, config });
      const run = {
        method,
        density: capacity,
        seed,
        average_accuracy: results.average_accuracy,
        forgetting: results.forgetting,
        capacity_used: results.ownership.capacity_used,
        seconds_per_task: seconds / results.tasks.length,
        backend: results.backend,
        load_average: os.loadavg()[0],
      };
      runs.push(run);
      console.error(`${method} capacity ${capacity} seed ${seed}: average accuracy ${(100 * run.average_accuracy).toFixed(2)}%, forgetting ${run.forgetting}, capacity used ${run.capacity_used.toFixed(4)}, ${run.seconds_per_task.toFixed(1)} s per task`);
    }
  }
}

const rows = [];
for (const capacity of capacities) {
  for (const method of methods) {
    const group = runs.filter((r) => r.method === method && r.density === capacity);
    rows.push({
      method,
      density: capacity,
      seeds: group.map((r) => r.seed),
      average_accuracy: mean(group.map((r) => r.average_accuracy)),
      average_accuracy_sd: sd(group.map((r) => r.average_accuracy)),
      forgetting: Math.max(...group.map((r) => r.forgetting)),
      capacity_used: mean(group.map((r) => r.capacity_used)),
      seconds_per_task: mean(group.map((r) => r.seconds_per_task)),
    });
  }
}
console.log(`${title}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the end (${loadAtStart.map((l) => l.toFixed(2)).join(' ')} at the start) on ${os.cpus().length} cores\n`);
printTable(
  rows.map((r) => ({ ...r, average_accuracy: `${(100 * r.average_accuracy).toFixed(2)} ± ${(100 * r.average_accuracy_sd).toFixed(2)}`, seconds_per_task: r.seconds_per_task.toFixed(1) })),
  ['method', 'density', 'seeds', 'average_accuracy', 'forgetting', 'capacity_used', 'seconds_per_task'],
);
console.log('\ndensity: capacity per task (mask density; kept_fraction for PackNet). average_accuracy in %, mean ± sd over seeds. Seconds per task on a shared machine: compare within one run only.');
writeResults(process.env.BENCH_RESULTS ?? 'strategies', {
  seeds,
  train_per_task: trainPerTask ?? 'all',
  backend,
  data: dataDir,
  load_average: { start: loadAtStart, end: os.loadavg() },
  ...(combine ? { combined_from: combine, run_load_average: [Math.min(...runs.map((r) => r.load_average)), Math.max(...runs.map((r) => r.load_average))] } : {}),
  rows,
  runs,
  configs,
});
