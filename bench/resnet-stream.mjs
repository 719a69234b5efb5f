// npm run bench:resnet-stream — time and memory per task over a 20-task ResNet-18 stream, the
// Split CIFAR-100 shape (20 tasks x 5 classes, a 5-output head) on Fashion-MNIST padded to 32x32:
// configs/split-fmnist-resnet18-exssnet.json (ExSSNeT, mask and weight phase, density 0.1, batch
// 64) with a class-groups stream whose task t holds classes t, t+1, ..., t+4 (mod 10), a seeded
// subset of BENCH_TRAIN_PER_TASK (default 128) training and BENCH_TEST_PER_TASK (64) test images
// per task. After each task: wall and CPU seconds (the process's CPU time, all threads: what a
// loaded machine does not inflate), the same for training (both phases), evaluation seconds
// (all tasks so far: grows with the task count by design), process RSS, tfjs tensors and bytes.
// BENCH_TASKS (20) resizes it. Writes bench/results/resnet-stream.json.
import os from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Experiment, readConfigFile, resolveConfig } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { fullDataDir, mean, printTable, root, writeResults } from './common.mjs';

const tasks = Number(process.env.BENCH_TASKS ?? 20);
const trainPerTask = Number(process.env.BENCH_TRAIN_PER_TASK ?? 128);
const testPerTask = Number(process.env.BENCH_TEST_PER_TASK ?? 64);
const dataDir = fullDataDir();
const file = join(root, 'configs', 'split-fmnist-resnet18-exssnet.json');
const raw = readConfigFile(file);
raw.stream = {
  id: 'class-groups',
  options: {
    task_classes: Array.from({ length: tasks }, (_, t) => Array.from({ length: 5 }, (_, i) => (t + i) % 10)),
    train_per_task: trainPerTask,
    test_per_task: testPerTask,
    pad_to: [32, 32],
  },
};
if (!dataDir) raw.dataset.options = { source: 'embedded' };
const registry = createRegistry();
const config = resolveConfig(raw, registry, { backend: 'cpu', file });

const perTask = [];
let last = 0;
let lastCpu;
let phaseCpu;
let trainCpu = 0;
const cpuSeconds = (since) => {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1e6;
};
const probe = {
  id: 'probe',
  beforePhase: () => {
    phaseCpu = process.cpuUsage();
  },
  afterPhase: () => {
    trainCpu += cpuSeconds(phaseCpu);
  },
  afterTask: ({ task, record }) => {
    const now = performance.now();
    const m = tf.memory();
    const row = {
      task: task.index + 1,
      seconds: (now - last) / 1000,
      cpu_seconds: cpuSeconds(lastCpu),
      train_seconds: record.phases.reduce((s, p) => s + p.seconds, 0),
      train_cpu_seconds: trainCpu,
      evaluation_seconds: record.evaluation_seconds,
      rss_mb: process.memoryUsage().rss / 2 ** 20,
      num_tensors: m.numTensors,
      tensor_mb: m.numBytes / 2 ** 20,
      load_average: os.loadavg()[0],
    };
    last = now;
    lastCpu = process.cpuUsage();
    trainCpu = 0;
    perTask.push(row);
    console.error(`task ${row.task}: ${row.seconds.toFixed(1)} s (train ${row.train_seconds.toFixed(1)} s, ${row.train_cpu_seconds.toFixed(1)} CPU s), RSS ${row.rss_mb.toFixed(0)} MB, ${row.num_tensors} tensors`);
  },
};
const experiment = await Experiment.create({ config, registry, runOptions: { dataDir }, observers: [probe] });
let results;
try {
  last = performance.now();
  lastCpu = process.cpuUsage();
  results = await experiment.run();
} finally {
  experiment.dispose();
}
const k = Math.min(5, tasks);
const summary = ['seconds', 'cpu_seconds', 'train_seconds', 'train_cpu_seconds', 'evaluation_seconds', 'rss_mb', 'num_tensors', 'tensor_mb'].map((key) => ({
  measure: key,
  [`tasks 1-${k}`]: mean(perTask.slice(0, k).map((r) => r[key])),
  [`tasks ${tasks - k + 1}-${tasks}`]: mean(perTask.slice(-k).map((r) => r[key])),
}));
console.log(`\nResNet-18 nf 20, ExSSNeT, ${tasks} tasks x 5 classes (Fashion-MNIST 32x32), ${trainPerTask} train / ${testPerTask} test per task, backend ${results.backend}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
printTable(perTask.map((r) => ({ ...r, seconds: r.seconds.toFixed(2), cpu_seconds: r.cpu_seconds.toFixed(2), train_seconds: r.train_seconds.toFixed(2), train_cpu_seconds: r.train_cpu_seconds.toFixed(2), evaluation_seconds: r.evaluation_seconds.toFixed(2), rss_mb: r.rss_mb.toFixed(0), tensor_mb: r.tensor_mb.toFixed(2), load_average: r.load_average.toFixed(1) })));
console.log('');
printTable(summary);
console.log(`\naverage accuracy ${(100 * results.average_accuracy).toFixed(2)}%, forgetting ${results.forgetting}`);
writeResults('resnet-stream', {
  config,
  seed: config.seed,
  backend: results.backend,
  fused_conv: process.env.SUPERMASK_FUSED_CONV !== '0',
  tasks,
  train_per_task: trainPerTask,
  test_per_task: testPerTask,
  data: dataDir ?? 'embedded',
  average_accuracy: results.average_accuracy,
  forgetting: results.forgetting,
  rows: perTask,
  summary,
});
