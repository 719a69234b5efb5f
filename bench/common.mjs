// Shared helpers of the benchmarks: data location, a printed table, and bench/results/NAME.json.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { Experiment, readCheckpoint, readConfigFile, resolveConfig, versions, writeJsonAtomic } from '@supermask/core';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** The full Fashion-MNIST: SUPERMASK_DATA, else ../shared/datasets, else the Debian location. */
export function fullDataDir() {
  const candidates = [process.env.SUPERMASK_DATA, join(root, '..', 'shared', 'datasets', 'fashion-mnist'), '/usr/share/datasets/fashion-mnist'];
  return candidates.find((d) => d && existsSync(join(d, 'train-images-idx3-ubyte.gz')));
}

/**
 * The fused conv + batch-norm units of ResNet-18 nf 20 on 32x32 inputs (bench:convbn-units,
 * bench:unit-threads): [in, out, kernel, stride, input size, ReLU, skip, units of this shape in the network].
 */
export const RESNET18_UNITS = [
  [1, 20, 3, 1, 32, true, false, 1],
  [20, 20, 3, 1, 32, true, false, 2],
  [20, 20, 3, 1, 32, true, true, 2],
  [20, 40, 3, 2, 32, true, false, 1],
  [20, 40, 1, 2, 32, false, false, 1],
  [40, 40, 3, 1, 16, true, false, 1],
  [40, 40, 3, 1, 16, true, true, 2],
  [40, 80, 3, 2, 16, true, false, 1],
  [40, 80, 1, 2, 16, false, false, 1],
  [80, 80, 3, 1, 8, true, false, 1],
  [80, 80, 3, 1, 8, true, true, 2],
  [80, 160, 3, 2, 8, true, false, 1],
  [80, 160, 1, 2, 8, false, false, 1],
  [160, 160, 3, 1, 4, true, false, 1],
  [160, 160, 3, 1, 4, true, true, 2],
];

/**
 * Random inputs of one RESNET18_UNITS unit in training mode (NCHW, `batch` images): x, filter, skip,
 * the output gradient dy, the kernel attrs, the forward kernel's inputs and a label. The caller
 * disposes x, filter, skipIn and dy.
 */
export function unitInputs([cin, cout, k, stride, size, relu, skip], batch, seed, tf) {
  const pad = (k - 1) / 2;
  const out = Math.floor((size + 2 * pad - k) / stride) + 1;
  const x = tf.randomNormal([batch, cin, size, size], 0, 1, 'float32', seed + 1);
  const filter = tf.randomNormal([k, k, cin, cout], 0, 0.1, 'float32', seed + 2);
  const skipIn = tf.randomNormal([batch, cout, out, out], 0, 1, 'float32', seed + 3);
  const dy = tf.randomNormal([batch, cout, out, out], 0, 1, 'float32', seed + 4);
  const attrs = { stride, pad, relu, mode: 'batch', epsilon: 1e-5 };
  const inputs = skip ? { x, filter, skip: skipIn } : { x, filter };
  const label = `${cin}->${cout} ${k}x${k} s${stride} @${size}${relu ? ' relu' : ''}${skip ? ' skip' : ''}`;
  return { out, x, filter, skipIn, dy, attrs, inputs, label, gflop: (2 * batch * out * out * cout * k * k * cin) / 1e9 };
}

/** Mean of a list of numbers. */
export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Sample standard deviation (0 for fewer than two values). */
export const sd = (xs) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));

/** CPU time of this process so far (every thread, user + system), in ms. */
export function processCpuMs() {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

/** Prints rows as an aligned table. */
export function printTable(rows, columns = Object.keys(rows[0] ?? {})) {
  const cell = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : Array.isArray(v) ? v.join(' ') : String(v ?? ''));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join(' | ');
  console.log(line(columns));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(columns.map((c) => cell(r[c]))));
}

/** Writes bench/results/NAME.json (BENCH_OUT/NAME.json when set; atomically and durably, core's writeJsonAtomic) with the figures, config, seed and machine, and the bench script that ran (bench/stale.mjs maps it to the configs it reads). */
export function writeResults(name, payload) {
  const file = join(process.env.BENCH_OUT || join(root, 'bench', 'results'), `${name}.json`);
  const body = {
    benchmark: name,
    script: basename(process.argv[1] ?? '', '.mjs'),
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, total_memory_gb: Math.round(os.totalmem() / 2 ** 30) },
    versions: versions(),
    ...payload,
  };
  writeJsonAtomic(file, body);
  console.log(`\nwritten ${file}`);
}

/**
 * True when `dir` holds a checkpoint of every task of a run of `config`; the backend and the number
 * of test images (which only decides what is evaluated) may differ.
 */
function finishedRun(dir, config) {
  if (!existsSync(join(dir, 'checkpoint.json'))) return false;
  const { manifest } = readCheckpoint(dir);
  const strip = (c) => JSON.stringify({ ...c, backend: undefined, stream: { ...c.stream, options: { ...c.stream.options, test_per_task: undefined } } });
  return manifest.completed_tasks === manifest.stream.tasks && strip(manifest.config) === strip(config);
}

/**
 * Resolves `raw` (a config read from `file`, edited by the benchmark) with a fresh registry of
 * `createRegistry` (from @supermask/cli), runs it to the end and returns the resolved config, the
 * results and the seconds the run took. `inspect(experiment, results, registry)` runs before the
 * experiment is disposed; its value is returned as `inspected`. With `runDir` the run writes its
 * checkpoints there, and a later call with the same config resumes the finished model instead of
 * training again (the results then come from the checkpoint).
 */
export async function runConfig(raw, { file, backend, dataDir, createRegistry, inspect, runDir }) {
  const registry = createRegistry();
  const config = resolveConfig(raw, registry, { backend, file });
  const finished = runDir ? finishedRun(runDir, config) : false;
  const experiment = finished
    ? await Experiment.resume(runDir, { registry, config, runOptions: { dataDir } })
    : await Experiment.create({ config, registry, runOptions: { dataDir }, ...(runDir ? { outDir: runDir } : {}) });
  try {
    const started = performance.now();
    const results = finished ? experiment.results() : await experiment.run();
    const seconds = (performance.now() - started) / 1000;
    const inspected = inspect ? await inspect(experiment, results, registry) : undefined;
    return { config, results, seconds, inspected };
  } finally {
    experiment.dispose();
  }
}

/**
 * Training throughput of the phases of a task, per backend, in one process: for each backend and
 * each { phase, file, edit }, builds configs/FILE (one task of `samples` training images, `edit`
 * applied to the raw config), runs the task and keeps the record of `phase`. Each runs `repeats`
 * times; the best run is the row (every run is returned too: on a shared machine the best is the
 * least disturbed). `createRegistry` comes from @supermask/cli.
 */
export async function benchPhases({ createRegistry, backends, phases, samples, repeats = 1, testPerTask = 500 }) {
  const dataDir = fullDataDir();
  const rows = [];
  const runs = [];
  const configs = {};
  let ort;
  for (const backend of backends) {
    for (const { phase, file, edit = () => {} } of phases) {
      let best;
      for (let r = 0; r < repeats; r++) {
        const registry = createRegistry();
        const raw = readConfigFile(join(root, 'configs', file));
        raw.stream.options = { ...raw.stream.options, tasks: 1, train_per_task: samples, test_per_task: testPerTask };
        if (!dataDir) raw.dataset.options = { source: 'embedded' };
        edit(raw);
        const config = resolveConfig(raw, registry, { backend, file: join(root, 'configs', file) });
        configs[phase] = { file: `configs/${file}`, config };
        const experiment = await Experiment.create({ config, registry, runOptions: { dataDir } });
        try {
          if (experiment.backendSelection.module === '@supermask/kernels-ort') {
            const { registerOrtBackend } = await import('@supermask/kernels-ort');
            const reg = registerOrtBackend();
            ort = { ort_version: reg.ortVersion, intra_op_threads: reg.intraOpThreads, parallel_flops: reg.parallelFlops, spinning: reg.spinning, max_sessions: reg.maxSessions };
          }
          const load = os.loadavg()[0];
          const record = (await experiment.run()).tasks[0];
          const p = record.phases.find((x) => x.name === phase);
          const row = {
            backend: experiment.backendSelection.backend,
            requested: backend,
            phase,
            batch_size: p.batch_size,
            steps: p.steps,
            seconds: p.seconds,
            samples_per_second: p.samples_per_second,
            load_average: load,
          };
          runs.push(row);
          if (!best || row.samples_per_second > best.samples_per_second) best = row;
        } finally {
          experiment.dispose();
        }
      }
      rows.push(best);
    }
  }
  const speedups = [];
  for (const { phase } of phases) {
    const plain = rows.find((r) => r.phase === phase && r.backend === 'cpu');
    const fast = rows.find((r) => r.phase === phase && r.backend === 'cpu-ort');
    if (plain && fast) speedups.push({ phase, speedup: fast.samples_per_second / plain.samples_per_second });
  }
  return { rows, runs, configs, ort, speedups, data: dataDir ?? 'embedded' };
}

/** Prints benchPhases' rows and speed-ups. */
export function printPhases(title, { rows, speedups }) {
  console.log(`${title}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} cores\n`);
  printTable(
    rows.map((r) => ({ ...r, seconds: r.seconds.toFixed(2), samples_per_second: r.samples_per_second >= 100 ? Math.round(r.samples_per_second) : r.samples_per_second.toFixed(2) })),
    ['backend', 'phase', 'batch_size', 'steps', 'seconds', 'samples_per_second'],
  );
  if (speedups.length) console.log(`\ncpu-ort / cpu: ${speedups.map((s) => `${s.phase} phase ${s.speedup.toFixed(1)}x`).join(', ')}`);
}

/**
 * Times one phase of the first task of configs/FILE (`edit` applied to the raw config) on
 * `backend`: a task of batch * (steps + 1) training images, the first batch (sessions, caches)
 * not counted. `hooks.start` / `hooks.stop` run around the counted batches, `hooks.ready(experiment)`
 * before the task starts. Returns samples/s over the counted batches, their milliseconds, the
 * backend, the load average at the start and the resolved config.
 */
export async function timedPhase({ file, phase, edit = () => {}, steps, batch = 64, backend = 'cpu', createRegistry, hooks = {} }) {
  const dataDir = fullDataDir();
  const registry = createRegistry();
  const raw = readConfigFile(join(root, 'configs', file));
  raw.stream.options = { ...raw.stream.options, tasks: 1, train_per_task: batch * (steps + 1), test_per_task: batch };
  if (!dataDir) raw.dataset.options = { source: 'embedded' };
  edit(raw);
  const config = resolveConfig(raw, registry, { backend, file: join(root, 'configs', file) });
  let ms = 0;
  let cpuMs = 0;
  let t0 = 0;
  let c0;
  let counting = false;
  // The first batch's beforeBatch to the end of the phase: the steps after the first (afterBatch
  // events arrive in groups, once the losses are read, so they do not mark a step's end).
  const observer = {
    id: 'timed-phase',
    beforeBatch: (info) => {
      if (info.phase.name !== phase || info.batch !== 1 || counting) return;
      counting = true;
      hooks.start?.();
      c0 = process.cpuUsage();
      t0 = performance.now();
    },
    afterPhase: (info) => {
      if (info.phase.name !== phase || !counting) return;
      ms += performance.now() - t0;
      const c = process.cpuUsage(c0);
      cpuMs += (c.user + c.system) / 1000;
      counting = false;
      hooks.stop?.();
    },
  };
  const experiment = await Experiment.create({ config, registry, observers: [observer], runOptions: { dataDir } });
  try {
    hooks.ready?.(experiment);
    const load = os.loadavg()[0];
    await experiment.runTask(experiment.stream.tasks[0]);
    return { samples_per_second: (batch * steps * 1000) / ms, ms, cpu_ms_per_step: cpuMs / steps, steps, batch, backend: experiment.backendSelection.backend, load_average: load, config, data: dataDir ?? 'embedded' };
  } finally {
    experiment.dispose();
  }
}

/** Edits a two-phase config so that its first task runs only one weight-phase epoch of batch `batch` (the weight phase's speed does not depend on how trained the mask is). */
export function weightPhaseOnly(raw, batch = 64) {
  raw.strategy.options.mask_phase = { ...raw.strategy.options.mask_phase, epochs: 0 };
  raw.strategy.options.weight_phase = { ...raw.strategy.options.weight_phase, epochs: 1, batch_size: batch };
}

/**
 * The two timed phases of a ResNet-18 training step (bench:resnet18, bench:profile-resnet,
 * bench:outside-graphs): the mask phase of configs/split-fmnist-resnet18-supsup.json (one epoch)
 * and the weight phase of configs/split-fmnist-resnet18-exssnet.json (weightPhaseOnly, batch `batch`).
 */
export function resnet18Phases(batch = 64) {
  return [
    { phase: 'mask', file: 'split-fmnist-resnet18-supsup.json', edit: (raw) => (raw.strategy.options.mask_phase.epochs = 1) },
    { phase: 'weight', file: 'split-fmnist-resnet18-exssnet.json', edit: (raw) => weightPhaseOnly(raw, batch) },
  ];
}
