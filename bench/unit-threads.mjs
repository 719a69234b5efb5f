// npm run bench:unit-threads — for each unit shape of ResNet-18 nf 20 (32x32, batch 64, training
// mode), the fused conv + batch-norm unit's forward and backward sessions on ONNX Runtime's
// intra-op threads (@supermask/kernels-ort's default, 2 here) against one thread, alternately in
// one process (BENCH_ROUNDS rounds of BENCH_REPS calls each way): CPU time of the process (every
// thread), wall time per call (mean, and the best call: what an idle machine approaches), the
// ratios 1 thread / N threads, and the choice the backend makes by default (`parallelPixels`). Writes bench/results/unit-threads.json.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { ortRuntime, registerOrtBackend } from '@supermask/kernels-ort';
import { printTable, processCpuMs, RESNET18_UNITS, unitInputs, writeResults } from './common.mjs';

const reps = Math.max(1, Number(process.env.BENCH_REPS ?? 3));
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const batch = 64;
const seed = 0;

const { backendName } = registerOrtBackend();
await tf.setBackend(backendName);
const runtime = ortRuntime(backendName);
const defaults = { parallelFlops: runtime.parallelFlops, parallelPixels: runtime.parallelPixels };

/** Sets the runtime's thresholds so that every unit runs on `threads` threads (1 or the runtime's intraOpThreads). */
function force(threads) {
  Object.assign(runtime, threads === 1 ? { parallelFlops: Infinity, parallelPixels: Infinity } : { parallelFlops: 0, parallelPixels: 0 });
}

const rows = [];
for (const unit of RESNET18_UNITS) {
  const [, , , , size, , skip, count] = unit;
  const { out, x, filter, skipIn, dy, attrs, inputs, label } = unitInputs(unit, batch, seed, tf);
  const t = { 1: { cpu: 0, ms: 0, best: Infinity }, [runtime.intraOpThreads]: { cpu: 0, ms: 0, best: Infinity } };
  const call = () => {
    const outs = tf.engine().runKernel('SupermaskConvBn', inputs, attrs);
    const grads = tf.engine().runKernel('SupermaskConvBnGrad', { dy, x, filter, y: outs[0], xhat: outs[1], invstd: outs[2] }, { ...attrs, skip });
    tf.dispose([...outs, ...grads]);
  };
  for (const threads of Object.keys(t)) {
    force(Number(threads));
    call(); // session creation, not timed
  }
  for (let r = 0; r < rounds; r++) {
    for (const threads of Object.keys(t)) {
      force(Number(threads));
      const c0 = processCpuMs();
      const w0 = performance.now();
      for (let i = 0; i < reps; i++) {
        const w = performance.now();
        call();
        t[threads].best = Math.min(t[threads].best, performance.now() - w);
      }
      t[threads].cpu += (processCpuMs() - c0) / (reps * rounds);
      t[threads].ms += (performance.now() - w0) / (reps * rounds);
    }
  }
  Object.assign(runtime, defaults);
  tf.dispose([x, filter, skipIn, dy]);
  const n = runtime.intraOpThreads;
  rows.push({
    unit: label,
    count,
    input_pixels: size * size,
    output_pixels: out * out,
    [`cpu_ms_${n}t`]: t[n].cpu,
    cpu_ms_1t: t[1].cpu,
    [`wall_ms_${n}t`]: t[n].ms,
    wall_ms_1t: t[1].ms,
    [`best_wall_ms_${n}t`]: t[n].best,
    best_wall_ms_1t: t[1].best,
    cpu_ratio_1t: t[1].cpu / t[n].cpu,
    wall_ratio_1t: t[1].ms / t[n].ms,
    best_wall_ratio_1t: t[1].best / t[n].best,
    default_threads: size * size >= runtime.parallelPixels ? n : 1,
  });
}
const n = runtime.intraOpThreads;
const sum = (f) => rows.reduce((s, r) => s + f(r) * r.count, 0);
const step = {
  [`cpu_ms_${n}t`]: sum((r) => r[`cpu_ms_${n}t`]),
  cpu_ms_1t: sum((r) => r.cpu_ms_1t),
  cpu_ms_default: sum((r) => (r.default_threads === 1 ? r.cpu_ms_1t : r[`cpu_ms_${n}t`])),
  [`wall_ms_${n}t`]: sum((r) => r[`wall_ms_${n}t`]),
  wall_ms_1t: sum((r) => r.wall_ms_1t),
  wall_ms_default: sum((r) => (r.default_threads === 1 ? r.wall_ms_1t : r[`wall_ms_${n}t`])),
  [`best_wall_ms_${n}t`]: sum((r) => r[`best_wall_ms_${n}t`]),
  best_wall_ms_1t: sum((r) => r.best_wall_ms_1t),
  best_wall_ms_default: sum((r) => (r.default_threads === 1 ? r.best_wall_ms_1t : r[`best_wall_ms_${n}t`])),
};
const loadAverage = os.loadavg();
console.log(`ResNet-18 nf 20 units, forward + backward, batch ${batch}, ${rounds} alternating rounds of ${reps} calls; ${n} intra-op threads against 1; default parallelPixels ${defaults.parallelPixels}; load average ${loadAverage.map((l) => l.toFixed(2)).join(' ')}\n`);
printTable(rows);
console.log(`\na training step's units (forward + backward): CPU ms ${n} threads ${step[`cpu_ms_${n}t`].toFixed(1)}, 1 thread ${step.cpu_ms_1t.toFixed(1)}, default choice ${step.cpu_ms_default.toFixed(1)}; wall ms ${step[`wall_ms_${n}t`].toFixed(1)} / ${step.wall_ms_1t.toFixed(1)} / ${step.wall_ms_default.toFixed(1)}; best-call wall ms (what an idle machine approaches) ${step[`best_wall_ms_${n}t`].toFixed(1)} / ${step.best_wall_ms_1t.toFixed(1)} / ${step.best_wall_ms_default.toFixed(1)}`);
await tf.setBackend('cpu');
tf.removeBackend(backendName);
writeResults('unit-threads', {
  config: { network: 'resnet18', nf: 20, input: [32, 32, 1], batch, mode: 'batch', reps, rounds, intra_op_threads: n, parallel_pixels: defaults.parallelPixels },
  seed,
  backend: backendName,
  load_average: loadAverage,
  rows,
  step,
});
