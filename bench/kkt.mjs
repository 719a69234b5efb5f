// npm run bench:kkt — ExSSNeT on Rotated Fashion-MNIST (5 tasks x 10 classes, 10° between tasks,
// configs/rotated-fmnist-exssnet-kkt.json) without KKT, with KKT (float32 scores) and with KKT
// (float16 scores), same seed. Prints per task the test accuracy after each mask epoch, the epochs
// needed to reach 95% of the no-KKT run's final accuracy on that task, and the final average accuracy.
// BENCH_TRAIN_PER_TASK (default 10000) and BENCH_TEST_PER_TASK (default 2000) size the tasks.
import { join } from 'node:path';
import { Experiment, readConfigFile, resolveConfig } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { fullDataDir, printTable, root, writeResults } from './common.mjs';

const trainPerTask = Number(process.env.BENCH_TRAIN_PER_TASK ?? 10000);
const testPerTask = Number(process.env.BENCH_TEST_PER_TASK ?? 2000);
const backend = process.env.BENCH_BACKEND ?? 'auto';
const dataDir = fullDataDir();
const file = join(root, 'configs', 'rotated-fmnist-exssnet-kkt.json');

const variants = [
  { kkt: 'none', transfer: { id: 'none' } },
  { kkt: 'kkt-float32', transfer: { id: 'kkt', options: { score_precision: 'float32' } } },
  { kkt: 'kkt-float16', transfer: { id: 'kkt', options: { score_precision: 'float16' } } },
];

const runs = [];
for (const variant of variants) {
  const raw = readConfigFile(file);
  raw.stream.options = { ...raw.stream.options, train_per_task: trainPerTask, test_per_task: testPerTask };
  if (!dataDir) raw.dataset.options = { source: 'embedded' };
  raw.knowledge_transfer = { ...raw.knowledge_transfer, ...variant.transfer, options: { ...raw.knowledge_transfer.options, ...(variant.transfer.options ?? {}) } };
  if (variant.transfer.id === 'none') delete raw.knowledge_transfer.options;
  const registry = createRegistry();
  const config = resolveConfig(raw, registry, { backend, file });
  const experiment = await Experiment.create({ config, registry, runOptions: { dataDir } });
  try {
    const started = performance.now();
    const results = await experiment.run();
    runs.push({ variant: variant.kkt, config, results, seconds: (performance.now() - started) / 1000 });
    console.error(`${variant.kkt}: average accuracy ${(100 * results.average_accuracy).toFixed(2)}% in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    experiment.dispose();
  }
}

const baseline = runs[0].results;
const target = baseline.tasks.map((_, t) => 0.95 * baseline.accuracy_matrix[t][t]);
const epochRows = [];
const rows = [];
for (const run of runs) {
  const epochsToTarget = run.results.tasks.map((task, t) => {
    const curve = task.phases.find((p) => p.name === 'mask').epoch_accuracy;
    const hit = curve.findIndex((a) => a >= target[t]);
    return hit >= 0 ? hit + 1 : null;
  });
  run.results.tasks.forEach((task, t) => {
    const curve = task.phases.find((p) => p.name === 'mask').epoch_accuracy;
    epochRows.push({
      kkt: run.variant,
      task: t + 1,
      mask_epoch_accuracy: curve.map((a) => a.toFixed(4)),
      target: target[t].toFixed(4),
      epochs_to_target: epochsToTarget[t] ?? 'not reached',
      chosen: task.transfer ? task.transfer.chosen.map((j) => j + 1).join(' ') || '-' : '',
      knn_accuracy: task.transfer ? task.transfer.knn_accuracy.map((a) => a.toFixed(3)) : '',
      kkt_seconds: task.transfer ? task.transfer.seconds : '',
    });
  });
  rows.push({ kkt: run.variant, average_accuracy: run.results.average_accuracy, forgetting: run.results.forgetting, epochs_to_target: epochsToTarget.map((e) => e ?? 'never'), seconds: run.seconds, backend: run.results.backend });
}
printTable(epochRows);
console.log('');
printTable(rows, ['kkt', 'average_accuracy', 'forgetting', 'epochs_to_target', 'seconds', 'backend']);
writeResults('kkt', {
  seed: baseline.seed,
  train_per_task: trainPerTask,
  test_per_task: testPerTask,
  data: dataDir ?? 'embedded',
  target_fraction: 0.95,
  rows,
  per_task: epochRows,
  configs: runs.map((r) => ({ kkt: r.variant, config: r.config })),
});
