// npm run bench:lenet — training throughput of LeNet 300-100 on Split Fashion-MNIST, plain tfjs
// cpu and cpu + ONNX Runtime kernels side by side in one process (BENCH_BACKENDS, default
// "cpu-plain,cpu"), for both phases of a task:
// - mask phase: configs/split-fmnist-supsup.json (density 0.1, batch 64, Adam lr 0.01);
// - weight phase: configs/split-fmnist-exssnet.json with its mask phase cut to 0 epochs (the
//   weight phase's speed does not depend on how trained the mask is), batch 64.
// Each phase runs one epoch of the first task over BENCH_SAMPLES training images (default 6400 =
// 100 steps), BENCH_REPEATS times (default 1; the best run is reported, every run is recorded).
// Writes bench/results/lenet.json.
import { createRegistry } from '@supermask/cli';
import { benchPhases, printPhases, weightPhaseOnly, writeResults } from './common.mjs';

const samples = Number(process.env.BENCH_SAMPLES ?? 6400);
const repeats = Math.max(1, Number(process.env.BENCH_REPEATS ?? 1));
const backends = (process.env.BENCH_BACKENDS ?? 'cpu-plain,cpu').split(',');

const result = await benchPhases({
  createRegistry,
  backends,
  samples,
  repeats,
  phases: [
    { phase: 'mask', file: 'split-fmnist-supsup.json' },
    {
      phase: 'weight',
      file: 'split-fmnist-exssnet.json',
      edit: (raw) => weightPhaseOnly(raw, 64),
    },
  ],
});
printPhases(`LeNet 300-100, density 0.1, batch 64, ${samples} samples per phase, best of ${repeats}`, result);
writeResults('lenet', {
  config: result.configs,
  seed: result.configs.mask.config.seed,
  backend: [...new Set(result.rows.map((r) => r.backend))],
  samples,
  repeats,
  data: result.data,
  ort: result.ort,
  rows: result.rows,
  runs: result.runs,
  speedups: result.speedups,
});
