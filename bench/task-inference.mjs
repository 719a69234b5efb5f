// npm run bench:task-inference — Fashion-MNIST, LeNet, each strategy of BENCH_STRATEGIES (default
// supsup,exssnet; also wsn, packnet) on BENCH_STREAM (permuted, default: 10 classes per task,
// configs/permuted-fmnist-{supsup,exssnet}.json, WSN and PackNet with the exssnet config's data and
// their configs/split-fmnist-{wsn,packnet}.json strategy, scorer, ownership and backbone; split:
// configs/split-fmnist-STRATEGY.json as they are, 2 classes per task). Each strategy is trained for
// every combination of task count (BENCH_TASKS, default 10,50; split: the config's), training images
// per task (BENCH_TRAIN_PER_TASK, default 1000; "all" = every image) and superfluous outputs
// (BENCH_SUPERFLUOUS, default: the config's value, 0 and 90); then every learned task's test set
// (BENCH_TEST_PER_TASK, default 256 images) is evaluated in batches of BENCH_INFERENCE_BATCH (128)
// with the oracle task id and with each task inference (BENCH_METHODS, default oneshot, binary,
// exhaustive, contrast, prototype, prototype-2; also contrast-1, oneshot-verify, g-verify,
// g-contrast, contrast-scale-free, contrast-scale-free-1, contrast-5, prototype-3). A method that
// cannot run on a model is a row with its error. Seconds per test batch are measured side by side
// in one process, the fastest of BENCH_REPEATS (2) passes over the test sets (the first warms up);
// `infer_ms_median` is the choice of the task alone on one batch (median of BENCH_TIMING_ROUNDS,
// 15, rounds in which the methods take turns), `infer_vs_oneshot` its ratio to one-shot's; with
// BENCH_TIMING_TASKS=k the same rounds also time each method on the model's first k tasks
// (`infer_ms_median_at`, `infer_growth` = time with all tasks / time with k: the cost's growth); `cost_vs_oneshot` is each method's time per batch over one-shot's on the same
// model. Writes bench/results/task-inference.json (or BENCH_RESULTS_NAME). With BENCH_RUN_DIR each
// trained model is checkpointed in a folder there and reused by later runs of the same config.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { inferenceContext, inputSize, outputWidth, readConfigFile } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { fullDataDir, printTable, root, runConfig, writeResults } from './common.mjs';

const list = (name, fallback) => (process.env[name] ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
const taskCounts = list('BENCH_TASKS', process.env.BENCH_STREAM === 'split' ? 'config' : '10,50').map((s) => (s === 'config' ? undefined : Number(s)));
const trainSizes = list('BENCH_TRAIN_PER_TASK', '1000').map((s) => (s === 'all' ? undefined : Number(s)));
const testPerTask = process.env.BENCH_TEST_PER_TASK === 'all' ? undefined : Number(process.env.BENCH_TEST_PER_TASK ?? 256);
const batchSize = Number(process.env.BENCH_INFERENCE_BATCH ?? 128);
const repeats = Number(process.env.BENCH_REPEATS ?? 2);
const timingRounds = Number(process.env.BENCH_TIMING_ROUNDS ?? 15);
const timingTasks = list('BENCH_TIMING_TASKS', '').map(Number);
const backend = process.env.BENCH_BACKEND ?? 'auto';
const strategies = list('BENCH_STRATEGIES', 'supsup,exssnet');
const methodSpecs = {
  oneshot: { id: 'oneshot' },
  binary: { id: 'binary' },
  exhaustive: { id: 'exhaustive' },
  contrast: { id: 'contrast' },
  'contrast-1': { id: 'contrast', options: { candidates: 1 } },
  'contrast-scale-free': { id: 'contrast', options: { objective: 'scale-free-entropy' } },
  'contrast-scale-free-1': { id: 'contrast', options: { objective: 'scale-free-entropy', candidates: 1 } },
  'contrast-5': { id: 'contrast', options: { candidates: 5 } },
  'oneshot-verify': { id: 'contrast', options: { scramble: false } },
  'g-verify': { id: 'contrast', options: { scramble: false, objective: 'superfluous' }, superfluous: true },
  'g-contrast': { id: 'contrast', options: { objective: 'superfluous' }, superfluous: true },
  prototype: { id: 'prototype' },
  'prototype-2': { id: 'prototype', options: { candidates: 2 } },
  'prototype-3': { id: 'prototype', options: { candidates: 3 } },
};
const methods = list('BENCH_METHODS', 'oneshot,binary,exhaustive,contrast,prototype,prototype-2');
const streamKind = process.env.BENCH_STREAM ?? 'permuted';
if (!['permuted', 'split'].includes(streamKind)) throw new Error(`BENCH_STREAM: unknown stream "${streamKind}" (known: permuted, split)`);
for (const m of methods) if (!methodSpecs[m]) throw new Error(`BENCH_METHODS: unknown method "${m}" (known: ${Object.keys(methodSpecs).join(', ')})`);
const dataDir = fullDataDir();
const runRoot = process.env.BENCH_RUN_DIR;

const rows = [];
const training = [];
const configs = [];
const configFiles = new Set();

/** The raw config of `strategy` on the benchmark's stream, and the configs/ files it was made from. */
function baseConfig(strategy) {
  const own = join(root, 'configs', `${streamKind === 'split' ? 'split' : 'permuted'}-fmnist-${strategy}.json`);
  if (streamKind === 'split' || existsSync(own)) return { file: own, raw: readConfigFile(own), files: [own] };
  // WSN, PackNet: the permuted data of the exssnet config, their own recipe, scorer, ownership and backbone.
  const data = join(root, 'configs', 'permuted-fmnist-exssnet.json');
  const recipe = join(root, 'configs', `split-fmnist-${strategy}.json`);
  const from = readConfigFile(recipe);
  const raw = { ...readConfigFile(data), name: `permuted-fmnist-${strategy}`, strategy: from.strategy, mask_scorer: from.mask_scorer, backbone: from.backbone };
  if (from.ownership_policy) raw.ownership_policy = from.ownership_policy;
  return { file: recipe, raw, files: [data, recipe] };
}
/**
 * The cost of choosing the task alone (the `infer` call, without predicting the batch), in seconds:
 * each method (built as the registry builds it, learning what it learns from the stream's training
 * data) infers one test batch of the last task `timingRounds` times, the methods taking turns in
 * each round (so load changes hit them alike) after one warm-up call each; the median per method.
 */
async function inferenceTiming(experiment, registry, names) {
  const learned = experiment.finishedTasks;
  // Learned-task counts timed side by side: all, and each of BENCH_TIMING_TASKS below it (the first k tasks of the same model).
  const counts = [...timingTasks.filter((k) => k < learned), learned];
  const last = experiment.stream.tasks[learned - 1];
  const n = Math.min(batchSize, last.test.n);
  const d = inputSize(last.inputShape);
  const x = tf.tensor(last.test.x.subarray(0, n * d), [n, ...last.inputShape]);
  const contexts = counts.map((k) => inferenceContext(experiment.backbone, k));
  const spec = { inputShape: last.inputShape, numClasses: experiment.stream.numClasses, numOutputs: outputWidth(experiment.stream.numClasses, experiment.config) };
  const built = [];
  for (const name of names) {
    const { id, options } = methodSpecs[name];
    const inference = registry.get('task_inference', id).create(registry.resolveOptions('task_inference', { id, options: { batch_size: batchSize, ...options } }, name), { resolve: () => spec });
    for (const t of experiment.stream.tasks.slice(0, experiment.finishedTasks)) if (inference.learnTask && !inference.hasLearned(t.index)) await inference.learnTask(t);
    for (const ctx of contexts) await inference.infer(x, -1, ctx);
    built.push({ name, inference, seconds: counts.map(() => []) });
  }
  for (let round = 0; round < timingRounds; round++) {
    for (const b of built) {
      for (const [i, ctx] of contexts.entries()) {
        const start = performance.now();
        await b.inference.infer(x, -1, ctx);
        b.seconds[i].push((performance.now() - start) / 1000);
      }
    }
  }
  x.dispose();
  const median = (v) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];
  return Object.fromEntries(built.map((b) => [b.name, { all: median(b.seconds.at(-1)), at: Object.fromEntries(counts.slice(0, -1).map((k, i) => [k, median(b.seconds[i])])) }]));
}

for (const tasks of taskCounts) {
  for (const trainPerTask of trainSizes) {
    for (const strategy of strategies) {
      const { file, files, raw: base } = baseConfig(strategy);
      for (const f of files) configFiles.add(relative(root, f));
      const configured = base.outputs?.superfluous ?? 0;
      const superfluousList = process.env.BENCH_SUPERFLUOUS ? list('BENCH_SUPERFLUOUS', '').map(Number) : [...new Set([configured, 0, 90])];
      for (const superfluous of superfluousList) {
        const { raw } = baseConfig(strategy);
        raw.outputs = { ...raw.outputs, superfluous };
        raw.stream.options = { ...raw.stream.options, ...(tasks ? { tasks } : {}), ...(trainPerTask ? { train_per_task: trainPerTask } : {}), ...(testPerTask ? { test_per_task: testPerTask } : {}) };
        if (!dataDir) raw.dataset.options = { source: 'embedded' };
        raw.task_inference = { id: 'oracle' };
        const variant = { stream: streamKind, strategy, tasks: raw.stream.options.tasks, train_per_task: trainPerTask ?? 'all', superfluous_outputs: superfluous };
        const inspect = async (experiment, results, registry) => {
          console.error(`${strategy}, ${streamKind} ${variant.tasks} tasks, ${trainPerTask ?? 'all'} images per task, ${superfluous} superfluous outputs: average accuracy ${(100 * results.average_accuracy).toFixed(2)}%, backend ${results.backend}, load ${os.loadavg()[0].toFixed(2)}`);
          training.push({ ...variant, average_accuracy: results.average_accuracy, load_average: os.loadavg()[0], mask_overlap: results.tasks.map((t) => Number((t.ownership?.total.overlap ?? 0).toFixed(3))) });
          const batches = experiment.stream.tasks.reduce((s, t) => s + Math.ceil(t.test.n / batchSize), 0);
          const measured = [];
          for (const name of ['oracle', ...methods]) {
            const spec = name === 'oracle' ? { id: 'oracle' } : methodSpecs[name];
            if (spec.superfluous && superfluous === 0) continue; // the G objective needs superfluous outputs
            const ref = { id: spec.id, options: spec.id === 'oracle' ? {} : { batch_size: batchSize, ...spec.options } };
            let summary;
            let seconds = Infinity;
            try {
              // Each method runs `repeats` times in a row; the fastest pass is its time (the first also warms up kernels and caches).
              for (let r = 0; r < repeats; r++) {
                const again = await experiment.evaluateTaskInference(ref, spec.id === 'oracle' ? batchSize : undefined);
                if (summary && again.task_id_accuracy !== summary.task_id_accuracy) throw new Error(`${name} is not deterministic: task-id accuracy ${summary.task_id_accuracy}, then ${again.task_id_accuracy}`);
                summary = again;
                seconds = Math.min(seconds, again.tasks.reduce((s, t) => s + t.seconds, 0));
              }
            } catch (error) {
              if (/not deterministic/.test(error.message)) throw error;
              console.error(`${name} cannot run on ${strategy}: ${error.message}`);
              measured.push({ ...variant, inference: name, task_id_accuracy: null, error: error.message.split('\n')[0] });
              continue;
            }
            measured.push({
              ...variant,
              inference: name,
              task_id_accuracy: summary.task_id_accuracy,
              average_accuracy: summary.average_accuracy,
              per_task_id_accuracy: summary.tasks.map((t) => Number(t.task_id_accuracy.toFixed(4))),
              seconds,
              seconds_per_batch: seconds / batches,
              load_average: os.loadavg()[0],
              backend: results.backend,
            });
          }
          const timing = await inferenceTiming(experiment, registry, methods.filter((m) => measured.some((r) => r.inference === m && r.seconds_per_batch !== undefined)));
          const oneshot = measured.find((r) => r.inference === 'oneshot');
          for (const r of measured) {
            const t = timing[r.inference];
            rows.push({
              ...r,
              ...(oneshot && r.seconds_per_batch !== undefined ? { cost_vs_oneshot: r.seconds_per_batch / oneshot.seconds_per_batch } : {}),
              ...(t !== undefined ? { infer_ms_median: 1000 * t.all, ...(timing.oneshot ? { infer_vs_oneshot: t.all / timing.oneshot.all } : {}) } : {}),
              // The same choice on the model's first k tasks, timed in the same rounds: how the cost grows with the task count.
              ...(t !== undefined && Object.keys(t.at).length ? { infer_ms_median_at: Object.fromEntries(Object.entries(t.at).map(([k, v]) => [k, 1000 * v])), infer_growth: Object.fromEntries(Object.entries(t.at).map(([k, v]) => [k, t.all / v])) } : {}),
            });
          }
        };
        const runDir = runRoot ? join(runRoot, `${streamKind === 'split' ? 'split-' : ''}${strategy}-${variant.tasks}-${trainPerTask ?? 'all'}-${superfluous}`) : undefined;
        const { config } = await runConfig(raw, { file, backend, dataDir, createRegistry, inspect, runDir });
        configs.push({ ...variant, config });
      }
    }
  }
}
console.log(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} cores\n`);
printTable(training, ['stream', 'strategy', 'tasks', 'train_per_task', 'superfluous_outputs', 'average_accuracy']);
console.log('');
printTable(
  rows.map((r) => ({ ...r, growth: Object.entries(r.infer_growth ?? {}).map(([k, g]) => `${g.toFixed(2)}x vs ${k}`).join(' ') })),
  ['stream', 'strategy', 'tasks', 'train_per_task', 'superfluous_outputs', 'inference', 'task_id_accuracy', 'average_accuracy', 'seconds_per_batch', 'cost_vs_oneshot', 'infer_ms_median', 'infer_vs_oneshot', 'growth'],
);
writeResults(process.env.BENCH_RESULTS_NAME ?? 'task-inference', {
  seed: configs[0].config.seed,
  stream: streamKind,
  config_files: [...configFiles],
  inference_batch_size: batchSize,
  repeats,
  timing_rounds: timingRounds,
  timing_tasks: timingTasks,
  tasks: configs.map((c) => c.tasks).filter((t, i, all) => all.indexOf(t) === i),
  train_per_task: trainSizes.map((s) => s ?? 'all'),
  test_per_task: testPerTask ?? 'all',
  data: dataDir ?? 'embedded',
  rows,
  training,
  configs,
});
