// npm run bench:outside-graphs — a ResNet-18 training step (nf 20, 32x32, batch 64, density 0.1,
// backend cpu = cpu-ort, fused conv + batch-norm units) with the changes made around the ONNX
// Runtime unit graphs (issue #17) against the same step without them, alternately in one process
// (BENCH_ROUNDS rounds, BENCH_STEPS counted steps each), so that the machine's load hits both alike:
// - `before`: every unit on the intra-op threads whatever its size (parallelPixels 0), the
//   weight phase's gradients multiplied twice (fixedContext's product rule, then the editable
//   set by maskWeightGradients), the mask phase's W * M and its straight-through gradient by
//   tensor ops (the scorer's weightWithGradient off), and batch norm's running statistics
//   updated by tensor ops, as before;
// - `after`: the defaults (units with feature maps under parallelPixels on one thread; the weight
//   phase's one gradient mask, weightTrainingContext; the scores' gradient dy * W * sign(S) by one
//   kernel, straightThroughProduct; the running statistics by one loop).
// Mask phase: configs/split-fmnist-resnet18-supsup.json; weight phase:
// configs/split-fmnist-resnet18-exssnet.json with its mask phase cut to 0 epochs. Prints wall and
// CPU time (the process, every thread) per step, best and mean of the rounds, and after / before;
// writes bench/results/outside-graphs.json.
import os from 'node:os';
import { createRegistry } from '@supermask/cli';
import * as tf from '@tensorflow/tfjs-core';
import { editableSets, fixedContext, maskWeightGradients, TaskBatchNorm, weightPhase } from '@supermask/core';
import { ortRuntime } from '@supermask/kernels-ort';
import { printTable, resnet18Phases, timedPhase, writeResults } from './common.mjs';

const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const steps = Math.max(1, Number(process.env.BENCH_STEPS ?? 4));
const batch = 64;
const phases = resnet18Phases(batch);

// The weight phase as it was: the built-in session, with fixedContext and maskWeightGradients.
const currentBegin = weightPhase.begin;
async function previousBegin(setup) {
  const session = await currentBegin.call(weightPhase, setup);
  const t = setup.task.index;
  const layers = setup.backbone.layers;
  const editable = editableSets(layers, setup.ownership, t);
  return {
    ...session,
    context: () => fixedContext(t, true),
    transformGradients: (grads) => maskWeightGradients(grads, layers, editable),
    dispose: () => {
      session.dispose?.();
      for (const e of editable) e?.dispose();
    },
  };
}

// Batch norm's running-statistics update as it was: tensor ops on every backend.
const currentTrack = TaskBatchNorm.prototype.track;
function previousTrack(task, mean, variance, count) {
  const s = this.states.get(task);
  s.host = undefined;
  tf.tidy(() => {
    const unbiased = count > 1 ? variance.mul(count / (count - 1)) : variance;
    s.mean.assign(s.mean.mul(1 - this.momentum).add(mean.mul(this.momentum)));
    s.variance.assign(s.variance.mul(1 - this.momentum).add(unbiased.mul(this.momentum)));
  });
}

let defaultPixels;
const variants = {
  before: (experiment) => {
    const runtime = ortRuntime(experiment.backendSelection.backend);
    defaultPixels ??= runtime.parallelPixels;
    runtime.parallelPixels = 0;
    // The scorer without its fused product: LayerMasks multiplies maskWithGradient's mask.
    experiment.scorer.weightWithGradient = undefined;
    weightPhase.begin = previousBegin;
    TaskBatchNorm.prototype.track = previousTrack;
  },
  after: (experiment) => {
    const runtime = ortRuntime(experiment.backendSelection.backend);
    defaultPixels ??= runtime.parallelPixels;
    runtime.parallelPixels = defaultPixels;
    weightPhase.begin = currentBegin;
    TaskBatchNorm.prototype.track = currentTrack;
  },
};

const measurements = [];
let config;
let backend;
for (const { phase, file, edit } of phases) {
  for (let r = 0; r < rounds; r++) {
    for (const [variant, ready] of Object.entries(variants)) {
      const m = await timedPhase({ file, phase, edit, steps, batch, createRegistry, hooks: { ready } });
      weightPhase.begin = currentBegin;
      TaskBatchNorm.prototype.track = currentTrack;
      backend = m.backend;
      config ??= {};
      config[phase] = m.config;
      measurements.push({ phase, variant, round: r, ms_per_step: m.ms / steps, cpu_ms_per_step: m.cpu_ms_per_step, load_average: m.load_average });
    }
  }
}
const rows = [];
for (const { phase } of phases) {
  const of = (variant) => measurements.filter((m) => m.phase === phase && m.variant === variant);
  const best = (list, key) => Math.min(...list.map((m) => m[key]));
  const mean = (list, key) => list.reduce((s, m) => s + m[key], 0) / list.length;
  const [b, a] = [of('before'), of('after')];
  rows.push({
    phase,
    before_cpu_ms: best(b, 'cpu_ms_per_step'),
    after_cpu_ms: best(a, 'cpu_ms_per_step'),
    cpu_ratio: best(a, 'cpu_ms_per_step') / best(b, 'cpu_ms_per_step'),
    mean_cpu_ratio: mean(a, 'cpu_ms_per_step') / mean(b, 'cpu_ms_per_step'),
    before_wall_ms: best(b, 'ms_per_step'),
    after_wall_ms: best(a, 'ms_per_step'),
    wall_ratio: best(a, 'ms_per_step') / best(b, 'ms_per_step'),
    mean_wall_ratio: mean(a, 'ms_per_step') / mean(b, 'ms_per_step'),
  });
}
const loads = measurements.map((m) => m.load_average);
console.log(`\nResNet-18 nf 20, 32x32, batch ${batch}, backend ${backend}: ${rounds} alternating rounds of ${steps} counted steps; ms per step (best of the rounds), after / before; load average ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)} (now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})\n`);
printTable(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? (k.includes('ratio') ? `${v.toFixed(3)}x` : v.toFixed(1)) : v]))));
writeResults('outside-graphs', { config, seed: config?.mask?.seed, backend, steps, rounds, batch, parallel_pixels: defaultPixels, rows, measurements });
