// npm run bench:lenet — training throughput of LeNet 300-100 on Split Fashion-MNIST, plain tfjs
// cpu and cpu + ONNX Runtime kernels side by side in one process (BENCH_BACKENDS, default
// "cpu-plain,cpu"), for both phases of a task:
// - mask phase: configs/split-fmnist-supsup.json (density 0.1, batch 64, Adam lr 0.01);
// - weight phase: configs/split-fmnist-exssnet.json with its mask phase cut to 0 epochs (the
//   weight phase's speed does not depend on how trained the mask is), batch 64.
// Each phase runs one epoch of the first task over BENCH_SAMPLES training images (default 6400 =
// 100 steps), BENCH_REPEATS times (default 1; the best run is reported, every run is recorded:
// on a shared machine the best is the least disturbed). Writes bench/results/lenet.json.
import os from 'node:os';
import { Experiment, readConfigFile, resolveConfig } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { fullDataDir, printTable, root, writeResults } from './common.mjs';
import { join } from 'node:path';

const samples = Number(process.env.BENCH_SAMPLES ?? 6400);
const repeats = Math.max(1, Number(process.env.BENCH_REPEATS ?? 1));
const backends = (process.env.BENCH_BACKENDS ?? 'cpu-plain,cpu').split(',');
const dataDir = fullDataDir();

/** Resolved config of `file` for one task of `samples` images, with `edit` applied to the raw config. */
function configFor(file, backend, edit = () => {}) {
  const registry = createRegistry();
  const raw = readConfigFile(join(root, 'configs', file));
  raw.stream.options = { ...raw.stream.options, tasks: 1, train_per_task: samples, test_per_task: 500 };
  if (!dataDir) raw.dataset.options = { source: 'embedded' };
  edit(raw);
  return { registry, config: resolveConfig(raw, registry, { backend, file: join(root, 'configs', file) }) };
}

const PHASES = [
  { phase: 'mask', file: 'split-fmnist-supsup.json', edit: () => {} },
  {
    phase: 'weight',
    file: 'split-fmnist-exssnet.json',
    edit: (raw) => {
      raw.strategy.options.mask_phase = { ...raw.strategy.options.mask_phase, epochs: 0 };
      raw.strategy.options.weight_phase = { ...raw.strategy.options.weight_phase, epochs: 1, batch_size: 64 };
    },
  },
];

const rows = [];
const runs = [];
const configs = {};
let ortSettings;
for (const backend of backends) {
  for (const { phase, file, edit } of PHASES) {
    let best;
    for (let r = 0; r < repeats; r++) {
      const { registry, config } = configFor(file, backend, edit);
      configs[phase] = { file: `configs/${file}`, config };
      const experiment = await Experiment.create({ config, registry, runOptions: { dataDir } });
      try {
        if (experiment.backendSelection.module === '@supermask/kernels-ort') {
          const { registerOrtBackend } = await import('@supermask/kernels-ort');
          const reg = registerOrtBackend();
          ortSettings = { ort_version: reg.ortVersion, intra_op_threads: reg.intraOpThreads, spinning: reg.spinning, max_sessions: reg.maxSessions };
        }
        const load = os.loadavg()[0];
        const record = await experiment.runTask(experiment.stream.tasks[0]);
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
console.log(`LeNet 300-100, density 0.1, batch 64, ${samples} samples per phase, best of ${repeats}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} cores\n`);
printTable(rows.map((r) => ({ ...r, seconds: r.seconds.toFixed(2), samples_per_second: Math.round(r.samples_per_second) })), ['backend', 'phase', 'batch_size', 'steps', 'seconds', 'samples_per_second']);
const speedups = [];
for (const phase of ['mask', 'weight']) {
  const plain = rows.find((r) => r.phase === phase && r.backend === 'cpu');
  const fast = rows.find((r) => r.phase === phase && r.backend === 'cpu-ort');
  if (plain && fast) speedups.push({ phase, speedup: fast.samples_per_second / plain.samples_per_second });
}
if (speedups.length) console.log(`\ncpu-ort / cpu: ${speedups.map((s) => `${s.phase} phase ${s.speedup.toFixed(1)}x`).join(', ')}`);
writeResults('lenet', {
  config: configs,
  seed: configs.mask?.config.seed,
  backend: [...new Set(rows.map((r) => r.backend))],
  samples,
  repeats,
  data: dataDir ?? 'embedded',
  ort: ortSettings,
  rows,
  runs,
  speedups,
});
