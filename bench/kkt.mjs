// npm run bench:kkt — ExSSNeT on Rotated Fashion-MNIST (5 tasks x 10 classes, 10° between tasks,
// configs/rotated-fmnist-exssnet-kkt.json) without KKT, with KKT (float32 scores) and with KKT
// (float16 scores), for each seed of BENCH_SEEDS (default 0,1,2; the seed drives initialisation,
// data sampling and shuffling) and each task size of BENCH_TRAIN_PER_TASK (training images per
// task, default 2000,10000: little data per task, where transfer should matter, and more).
// Prints per task the test accuracy after each mask epoch, the mask epochs needed to reach 95% of
// the no-KKT run's final accuracy on that task (same seed and size), the final average accuracy
// per seed and its mean over seeds, and the capacity the runs used.
// BENCH_TEST_PER_TASK (default 2000) sizes the test sets.
import { join } from 'node:path';
import { readConfigFile } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { fullDataDir, mean, printTable, root, runConfig, sd, writeResults } from './common.mjs';

const trainSizes = (process.env.BENCH_TRAIN_PER_TASK ?? '2000,10000').split(',').map(Number);
const testPerTask = Number(process.env.BENCH_TEST_PER_TASK ?? 2000);
const seeds = (process.env.BENCH_SEEDS ?? '0,1,2').split(',').map(Number);
const backend = process.env.BENCH_BACKEND ?? 'auto';
const dataDir = fullDataDir();
const file = join(root, 'configs', 'rotated-fmnist-exssnet-kkt.json');
const TARGET = 0.95;

const variants = [
  { kkt: 'none', transfer: { id: 'none' } },
  { kkt: 'kkt-float32', transfer: { id: 'kkt', options: { score_precision: 'float32' } } },
  { kkt: 'kkt-float16', transfer: { id: 'kkt', options: { score_precision: 'float16' } } },
];

const runs = [];
for (const trainPerTask of trainSizes) {
  for (const seed of seeds) {
    for (const variant of variants) {
      const raw = readConfigFile(file);
      raw.seed = seed;
      raw.stream.options = { ...raw.stream.options, train_per_task: trainPerTask, test_per_task: testPerTask };
      if (!dataDir) raw.dataset.options = { source: 'embedded' };
      raw.knowledge_transfer = { ...raw.knowledge_transfer, ...variant.transfer, options: { ...raw.knowledge_transfer.options, ...(variant.transfer.options ?? {}) } };
      if (variant.transfer.id === 'none') delete raw.knowledge_transfer.options;
      const { config, results, seconds } = await runConfig(raw, { file, backend, dataDir, createRegistry });
      runs.push({ trainPerTask, seed, variant: variant.kkt, config, results, seconds });
      console.error(`${trainPerTask} per task, seed ${seed}, ${variant.kkt}: average accuracy ${(100 * results.average_accuracy).toFixed(2)}% in ${seconds.toFixed(0)} s`);
    }
  }
}

const maskCurve = (task) => task.phases.find((p) => p.name === 'mask').epoch_accuracy;

const baselineOf = (run) => runs.find((r) => r.trainPerTask === run.trainPerTask && r.seed === run.seed && r.variant === 'none').results;
const perTask = [];
const perSeed = [];
for (const run of runs) {
  const baseline = baselineOf(run);
  const target = baseline.tasks.map((_, t) => TARGET * baseline.accuracy_matrix[t][t]);
  run.epochsToTarget = run.results.tasks.map((task, t) => {
    const hit = maskCurve(task).findIndex((a) => a >= target[t]);
    return hit >= 0 ? hit + 1 : null;
  });
  run.results.tasks.forEach((task, t) => {
    perTask.push({
      train_per_task: run.trainPerTask,
      seed: run.seed,
      kkt: run.variant,
      task: t + 1,
      mask_epoch_accuracy: maskCurve(task).map((a) => a.toFixed(4)),
      final_accuracy: run.results.accuracy_matrix[t][t].toFixed(4),
      target: target[t].toFixed(4),
      epochs_to_target: run.epochsToTarget[t] ?? 'not reached',
      exclusive_fraction: task.ownership ? (task.ownership.total.exclusive_size / task.ownership.total.mask_size).toFixed(3) : '',
      chosen: task.transfer ? task.transfer.chosen.map((j) => j + 1).join(' ') || '-' : '',
      knn_accuracy: task.transfer ? task.transfer.knn_accuracy.map((a) => a.toFixed(3)) : '',
      kkt_seconds: task.transfer ? task.transfer.seconds : '',
    });
  });
  const last = run.results.tasks.at(-1);
  perSeed.push({
    train_per_task: run.trainPerTask,
    seed: run.seed,
    kkt: run.variant,
    average_accuracy: run.results.average_accuracy,
    forgetting: run.results.forgetting,
    epochs_to_target: run.epochsToTarget.map((e) => e ?? 'never'),
    capacity_used: last.ownership?.total.capacity_used ?? null,
    seconds: run.seconds,
    backend: run.results.backend,
  });
}

const rows = trainSizes.flatMap((trainPerTask) =>
  variants.map(({ kkt }) => {
    const mine = runs.filter((r) => r.trainPerTask === trainPerTask && r.variant === kkt);
    const accs = mine.map((r) => r.results.average_accuracy);
    const baselines = mine.map((r) => baselineOf(r).average_accuracy);
    const tasks = mine[0].results.tasks.length;
    return {
      train_per_task: trainPerTask,
      kkt,
      seeds: mine.map((r) => r.seed),
      average_accuracy: mean(accs),
      average_accuracy_sd: sd(accs),
      average_accuracy_per_seed: accs,
      minus_none_per_seed: accs.map((a, i) => a - baselines[i]),
      // Per task: mask epochs to the target, averaged over seeds (never reached counts as epochs + 1).
      epochs_to_target: Array.from({ length: tasks }, (_, t) =>
        mean(mine.map((r) => r.epochsToTarget[t] ?? maskCurve(r.results.tasks[t]).length + 1)),
      ),
      forgetting: Math.max(...mine.map((r) => r.results.forgetting)),
      capacity_used: mean(mine.map((r) => r.results.tasks.at(-1).ownership?.total.capacity_used ?? NaN)),
    };
  }),
);

printTable(perTask, ['train_per_task', 'seed', 'kkt', 'task', 'mask_epoch_accuracy', 'final_accuracy', 'target', 'epochs_to_target', 'exclusive_fraction', 'chosen', 'knn_accuracy', 'kkt_seconds']);
console.log('');
printTable(perSeed, ['train_per_task', 'seed', 'kkt', 'average_accuracy', 'forgetting', 'epochs_to_target', 'capacity_used', 'seconds', 'backend']);
console.log('');
printTable(
  rows.map((r) => ({ ...r, epochs_to_target: r.epochs_to_target.map((e) => e.toFixed(2)), minus_none_per_seed: r.minus_none_per_seed.map((d) => (100 * d).toFixed(2)) })),
  ['train_per_task', 'kkt', 'seeds', 'average_accuracy', 'average_accuracy_sd', 'minus_none_per_seed', 'epochs_to_target', 'forgetting', 'capacity_used'],
);
writeResults('kkt', {
  seeds,
  train_per_task: trainSizes,
  test_per_task: testPerTask,
  data: dataDir ?? 'embedded',
  backend: runs[0].results.backend,
  target_fraction: TARGET,
  rows,
  per_seed: perSeed,
  per_task: perTask,
  configs: runs.filter((r) => r.seed === seeds[0]).map((r) => ({ train_per_task: r.trainPerTask, kkt: r.variant, config: r.config })),
});
