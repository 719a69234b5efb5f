// npm run bench:resnet18 — training throughput of the reduced ResNet-18 (nf 20, 32x32 inputs:
// Fashion-MNIST padded) on plain tfjs cpu and on cpu + ONNX Runtime kernels in one process, for
// both phases of a task:
// - mask phase: configs/split-fmnist-resnet18-supsup.json (density 0.1, batch 64, Adam);
// - weight phase: configs/split-fmnist-resnet18-exssnet.json with its mask phase cut to 0 epochs.
// Plain cpu is slow here (its filter-gradient kernel runs at about 0.005 GFLOP/s): it trains on
// BENCH_PLAIN_SAMPLES images (default 64 = 1 step), the ORT backend on BENCH_SAMPLES (default
// 640 = 10 steps). Writes bench/results/resnet18.json.
import { createRegistry } from '@supermask/cli';
import { benchPhases, printPhases, resnet18Phases, writeResults } from './common.mjs';

const samples = Number(process.env.BENCH_SAMPLES ?? 640);
const plainSamples = Number(process.env.BENCH_PLAIN_SAMPLES ?? 64);
const repeats = Math.max(1, Number(process.env.BENCH_REPEATS ?? 1));
const backends = (process.env.BENCH_BACKENDS ?? 'cpu-plain,cpu').split(',');
const phases = resnet18Phases(64);

const results = [];
for (const backend of backends) {
  const plain = backend === 'cpu-plain';
  results.push(await benchPhases({ createRegistry, backends: [backend], phases, samples: plain ? plainSamples : samples, repeats, testPerTask: 64 }));
}
const rows = results.flatMap((r) => r.rows);
const speedups = [];
for (const { phase } of phases) {
  const p = rows.find((r) => r.phase === phase && r.backend === 'cpu');
  const f = rows.find((r) => r.phase === phase && r.backend === 'cpu-ort');
  if (p && f) speedups.push({ phase, speedup: f.samples_per_second / p.samples_per_second });
}
printPhases(`ResNet-18 (nf 20, 32x32), density 0.1, batch 64, best of ${repeats}`, { rows, speedups });
writeResults('resnet18', {
  config: results[0]?.configs,
  seed: results[0]?.configs.mask.config.seed,
  backend: [...new Set(rows.map((r) => r.backend))],
  samples: { 'cpu-ort': samples, cpu: plainSamples },
  repeats,
  data: results[0]?.data,
  ort: results.find((r) => r.ort)?.ort,
  rows,
  runs: results.flatMap((r) => r.runs),
  speedups,
});
