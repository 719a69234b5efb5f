// npm run bench:task-inference — Permuted Fashion-MNIST (10 tasks x 10 classes), LeNet, SupSup
// (density 0.1) and ExSSNeT (configs/permuted-fmnist-{supsup,exssnet}.json). Each strategy is
// trained twice, with the config's superfluous outputs (SupSup's 90 extra output neurons) and
// without any; then every test set is evaluated in batches of 128 with the oracle task id, with
// one-shot, binary and exhaustive task inference.
// BENCH_TRAIN_PER_TASK / BENCH_TEST_PER_TASK limit the images per task (default: all).
import { join } from 'node:path';
import { readConfigFile } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { fullDataDir, printTable, root, runConfig, writeResults } from './common.mjs';

const trainPerTask = process.env.BENCH_TRAIN_PER_TASK ? Number(process.env.BENCH_TRAIN_PER_TASK) : undefined;
const testPerTask = process.env.BENCH_TEST_PER_TASK ? Number(process.env.BENCH_TEST_PER_TASK) : undefined;
const batchSize = Number(process.env.BENCH_INFERENCE_BATCH ?? 128);
const backend = process.env.BENCH_BACKEND ?? 'auto';
const dataDir = fullDataDir();

const rows = [];
const training = [];
const configs = [];
const variants = ['supsup', 'exssnet'].flatMap((strategy) => {
  const superfluous = readConfigFile(join(root, 'configs', `permuted-fmnist-${strategy}.json`)).outputs?.superfluous ?? 0;
  return [...new Set([superfluous, 0])].map((outputs) => ({ strategy, superfluous: outputs }));
});
for (const { strategy, superfluous } of variants) {
  const file = join(root, 'configs', `permuted-fmnist-${strategy}.json`);
  const raw = readConfigFile(file);
  raw.outputs = { ...raw.outputs, superfluous };
  raw.stream.options = { ...raw.stream.options, ...(trainPerTask ? { train_per_task: trainPerTask } : {}), ...(testPerTask ? { test_per_task: testPerTask } : {}) };
  if (!dataDir) raw.dataset.options = { source: 'embedded' };
  raw.task_inference = { id: 'oracle' };
  const inspect = (experiment, results, registry) => {
    console.error(`${strategy} (${superfluous} superfluous outputs): trained ${results.tasks.length} tasks, average accuracy ${(100 * results.average_accuracy).toFixed(2)}%, backend ${results.backend}`);
    // How much each task's mask shares with earlier masks: the superposition's gradients tell
    // overlapping masks apart poorly.
    training.push({ strategy, superfluous_outputs: superfluous, average_accuracy: results.average_accuracy, mask_overlap: results.tasks.map((t) => Number((t.ownership?.total.overlap ?? 0).toFixed(3))) });
    for (const id of ['oracle', 'oneshot', 'binary', 'exhaustive']) {
      const t0 = performance.now();
      const summary = await experiment.evaluateTaskInference({ id, options: id === 'oracle' ? {} : { batch_size: batchSize } }, id === 'oracle' ? batchSize : undefined);
      rows.push({
        strategy,
        superfluous_outputs: superfluous,
        inference: id,
        task_id_accuracy: summary.task_id_accuracy,
        average_accuracy: summary.average_accuracy,
        per_task_id_accuracy: summary.tasks.map((t) => Number(t.task_id_accuracy.toFixed(4))),
        seconds: (performance.now() - t0) / 1000,
        backend: results.backend,
      });
    }
  };
  const { config } = await runConfig(raw, { file, backend, dataDir, createRegistry, inspect });
  configs.push({ strategy, superfluous_outputs: superfluous, config });
}
printTable(training);
console.log('');
printTable(rows, ['strategy', 'superfluous_outputs', 'inference', 'task_id_accuracy', 'average_accuracy', 'seconds', 'backend']);
writeResults('task-inference', {
  seed: configs[0].config.seed,
  inference_batch_size: batchSize,
  train_per_task: trainPerTask ?? 'all',
  test_per_task: testPerTask ?? 'all',
  data: dataDir ?? 'embedded',
  rows,
  training,
  configs,
});
