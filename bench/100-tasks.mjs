// npm run bench:100-tasks — 100 tasks on one network: Permuted Fashion-MNIST, 100 tasks x 10
// classes, a seeded subset of 1,000 training and 500 test images per task, LeNet, SupSup and
// ExSSNeT (configs/permuted-fmnist-{supsup,exssnet}.json), checkpoints after every task.
// Prints average accuracy, forgetting, wall time per task for tasks 1-10 against 91-100, process
// RSS, tf.memory().numTensors and checkpoint size after tasks 10, 50 and 100.
// BENCH_TASKS (default 100), BENCH_TRAIN_PER_TASK (1000), BENCH_TEST_PER_TASK (500) resize it.
// At the end, task inference (BENCH_INFERENCE, default prototype; none skips it) picks among all
// learned tasks for the test batches of every BENCH_INFERENCE_STRIDE-th task (10) and the last one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { evaluateInference, Experiment, outputWidth, readConfigFile, resolveConfig } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { fullDataDir, mean, printTable, root, writeResults } from './common.mjs';

const tasks = Number(process.env.BENCH_TASKS ?? 100);
const trainPerTask = Number(process.env.BENCH_TRAIN_PER_TASK ?? 1000);
const testPerTask = Number(process.env.BENCH_TEST_PER_TASK ?? 500);
const backend = process.env.BENCH_BACKEND ?? 'auto';
const inferenceId = process.env.BENCH_INFERENCE ?? 'prototype';
const inferenceStride = Number(process.env.BENCH_INFERENCE_STRIDE ?? 10);
const dataDir = fullDataDir();
const probes = [10, 50, 100].filter((t) => t <= tasks);
if (!probes.includes(tasks)) probes.push(tasks);

const rows = [];
const probeRows = [];
const configs = [];
for (const strategy of ['supsup', 'exssnet']) {
  const file = join(root, 'configs', `permuted-fmnist-${strategy}.json`);
  const raw = readConfigFile(file);
  raw.stream.options = { ...raw.stream.options, tasks, train_per_task: trainPerTask, test_per_task: testPerTask };
  raw.task_inference = { id: 'oracle' };
  if (!dataDir) raw.dataset.options = { source: 'embedded' };
  const registry = createRegistry();
  const config = resolveConfig(raw, registry, { backend, file });
  configs.push({ strategy, config });
  const runDir = mkdtempSync(join(tmpdir(), `supermask-100-${strategy}-`));
  const perTask = [];
  const probeRecords = [];
  let last = performance.now();
  const probe = {
    id: 'probe',
    afterTask: ({ task, record }) => {
      const now = performance.now();
      const seconds = (now - last) / 1000;
      last = now;
      const train = record.phases.reduce((s, p) => s + p.seconds, 0);
      perTask.push({ task: task.index + 1, seconds, train_seconds: train, evaluation_seconds: record.evaluation_seconds, state_bytes: record.state_bytes.total });
      if (probes.includes(task.index + 1)) {
        const p = {
          strategy,
          after_task: task.index + 1,
          rss_mb: process.memoryUsage().rss / 2 ** 20,
          num_tensors: tf.memory().numTensors,
          task_state_bytes: record.state_bytes.total,
        };
        probeRows.push(p);
        // The built-in checkpoint observer hears afterTask last: the checkpoint size is on the record after the run.
        probeRecords.push({ p, record });
        console.error(`${strategy} after task ${p.after_task}: RSS ${p.rss_mb.toFixed(0)} MB, ${p.num_tensors} tensors`);
      }
    },
  };
  const experiment = await Experiment.create({ config, registry, outDir: runDir, runOptions: { dataDir }, observers: [probe] });
  try {
    last = performance.now();
    const results = await experiment.run();
    for (const { p, record } of probeRecords) Object.assign(p, { checkpoint_mb: record.checkpoint_bytes / 2 ** 20, checkpoint_bytes_per_task: record.checkpoint_bytes / p.after_task });
    // Task inference over all learned tasks, on the test sets of every BENCH_INFERENCE_STRIDE-th task.
    let inferenceRow = {};
    if (inferenceId !== 'none') {
      const options = registry.resolveOptions('task_inference', { id: inferenceId, options: { batch_size: 128 } }, 'task_inference');
      // Built outside the run: the only collaborator a task inference asks for is the backbone spec (contrast).
      const spec = { inputShape: experiment.stream.tasks[0].inputShape, numClasses: experiment.stream.numClasses, numOutputs: outputWidth(experiment.stream.numClasses, config) };
      const inference = registry.get('task_inference', inferenceId).create(options, { resolve: () => spec });
      // A method that learns from each task's training data (prototype) learns it as the run would have.
      for (const t of experiment.stream.tasks.slice(0, experiment.finishedTasks)) if (inference.learnTask && !inference.hasLearned(t.index)) await inference.learnTask(t);
      const evaluated = [];
      for (const t of experiment.stream.tasks.filter((t) => t.index % inferenceStride === 0 || t.index === tasks - 1)) {
        evaluated.push(await evaluateInference(experiment.backbone, t, inference, experiment.finishedTasks, experiment.stream.numClasses, 128));
      }
      const batches = evaluated.reduce((s, r) => s + Math.ceil(experiment.stream.tasks[r.task].test.n / 128), 0);
      inferenceRow = {
        inference: inferenceId,
        inference_tasks: evaluated.map((r) => r.task + 1),
        task_id_accuracy: mean(evaluated.map((r) => r.task_id_accuracy)),
        inference_seconds_per_batch: evaluated.reduce((s, r) => s + r.seconds, 0) / batches,
      };
      console.error(`${strategy}: ${inferenceId} task inference over ${tasks} tasks identified ${(100 * inferenceRow.task_id_accuracy).toFixed(2)}% (tasks ${inferenceRow.inference_tasks.join(' ')}), ${inferenceRow.inference_seconds_per_batch.toFixed(3)} s per batch`);
    }
    const first = perTask.slice(0, Math.min(10, tasks));
    const lastTen = perTask.slice(-Math.min(10, tasks));
    rows.push({
      strategy,
      tasks: results.tasks.length,
      average_accuracy: results.average_accuracy,
      forgetting: results.forgetting,
      seconds_per_task_1_10: mean(first.map((r) => r.seconds)),
      seconds_per_task_last_10: mean(lastTen.map((r) => r.seconds)),
      train_seconds_1_10: mean(first.map((r) => r.train_seconds)),
      train_seconds_last_10: mean(lastTen.map((r) => r.train_seconds)),
      eval_seconds_last_10: mean(lastTen.map((r) => r.evaluation_seconds)),
      ...inferenceRow,
      backend: results.backend,
    });
    configs.at(-1).per_task = perTask;
    configs.at(-1).capacity_used = results.ownership?.capacity_used;
  } finally {
    experiment.dispose();
    rmSync(runDir, { recursive: true, force: true });
  }
}
printTable(rows);
console.log('');
printTable(probeRows, ['strategy', 'after_task', 'rss_mb', 'num_tensors', 'checkpoint_mb', 'checkpoint_bytes_per_task', 'task_state_bytes']);
writeResults('100-tasks', { seed: configs[0].config.seed, tasks, train_per_task: trainPerTask, test_per_task: testPerTask, data: dataDir ?? 'embedded', rows, memory: probeRows, configs });
