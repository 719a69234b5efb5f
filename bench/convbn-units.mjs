// npm run bench:convbn-units — the fused conv + batch-norm unit (@supermask/kernels-ort's
// SupermaskConvBn forward, SupermaskConvBnGrad backward) on each unit shape of ResNet-18 nf 20
// (32x32 Fashion-MNIST-padded inputs, batch 64, training mode), timed alone, two ways measured
// alternately in one run: ONNX Runtime's dense unit sessions (SUPERMASK_SPARSE_CONV=0) and the
// sparse units (WebAssembly kernels over the filter's nonzeros, SUPERMASK_SPARSE_CONV=1). The
// filter is W * M with M keeping BENCH_DENSITY (default 0.1) of the positions, as in a run. The
// backward is timed in both of a run's forms: without a gradient mask (mask phase: the filter's
// gradient everywhere, which the sparse unit leaves to ONNX Runtime) and with the mask as the
// gradient mask (weight phase: the gradient at the mask's positions only). CPU time of the process
// (every thread) and wall time per call, summed over the 20 units of one training step.
// BENCH_REPS (default 5) timed calls per unit after one untimed call (session creation).
// Writes bench/results/convbn-units.json.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { ortRuntime, registerOrtBackend, ortStats } from '@supermask/kernels-ort';
import { printTable, processCpuMs as cpuMs, RESNET18_UNITS, unitInputs, writeResults } from './common.mjs';

const reps = Math.max(1, Number(process.env.BENCH_REPS ?? 5));
const density = Number(process.env.BENCH_DENSITY ?? 0.1);
if (!(density > 0 && density <= 1)) throw new Error(`BENCH_DENSITY must be in (0, 1], got ${process.env.BENCH_DENSITY}`);
const batch = 64;
const seed = 0;
const units = RESNET18_UNITS;

const { backendName } = registerOrtBackend();
await tf.setBackend(backendName);
const runtime = ortRuntime(backendName);

/** A 0/1 mask keeping the `density` largest |values| (the top-k mask a run selects from scores). */
function topMask(filter) {
  const v = filter.dataSync();
  const k = Math.max(1, Math.round(density * v.length));
  const threshold = Float32Array.from(v, Math.abs).sort()[v.length - k];
  return tf.tensor(Float32Array.from(v, (x) => (Math.abs(x) >= threshold ? 1 : 0)), filter.shape);
}

const variants = [
  ['dense', '0'],
  ['sparse', '1'],
];
const rows = [];
for (const unit of units) {
  const [, , , , , , skip, count] = unit;
  const { x, filter: dense, skipIn, dy, attrs, inputs, label, gflop } = unitInputs(unit, batch, seed, tf);
  const mask = topMask(dense);
  const zero = () => ({ fwdCpu: 0, bwdCpu: 0, bwdMaskedCpu: 0, fwdMs: 0, bwdMs: 0, bwdMaskedMs: 0 });
  const t = Object.fromEntries(variants.map(([v]) => [v, zero()]));
  for (let r = 0; r <= reps; r++) {
    for (const [variant, env] of variants) {
      process.env.SUPERMASK_SPARSE_CONV = env;
      // A new W * M array each call, as every training step makes: no cached entry lists.
      const filter = dense.mul(mask);
      inputs.filter = filter;
      const c0 = cpuMs();
      const w0 = performance.now();
      const outs = tf.engine().runKernel('SupermaskConvBn', inputs, attrs);
      const c1 = cpuMs();
      const w1 = performance.now();
      const saved = { dy, x, filter, y: outs[0], xhat: outs[1], invstd: outs[2] };
      const grads = tf.engine().runKernel('SupermaskConvBnGrad', saved, { ...attrs, skip });
      const c2 = cpuMs();
      const w2 = performance.now();
      const masked = tf.engine().runKernel('SupermaskConvBnGrad', { ...saved, gradientMask: mask }, { ...attrs, skip });
      const c3 = cpuMs();
      const w3 = performance.now();
      if (r > 0) {
        const e = t[variant];
        e.fwdCpu += (c1 - c0) / reps;
        e.bwdCpu += (c2 - c1) / reps;
        e.bwdMaskedCpu += (c3 - c2) / reps;
        e.fwdMs += (w1 - w0) / reps;
        e.bwdMs += (w2 - w1) / reps;
        e.bwdMaskedMs += (w3 - w2) / reps;
      }
      tf.dispose([...outs, ...grads, ...masked, filter]);
    }
  }
  delete process.env.SUPERMASK_SPARSE_CONV;
  tf.dispose([x, dense, mask, skipIn, dy]);
  const d = t.dense;
  const s = t.sparse;
  rows.push({
    unit: label,
    count,
    gflop_per_call: gflop,
    dense_fwd_cpu_ms: d.fwdCpu,
    dense_bwd_cpu_ms: d.bwdCpu,
    sparse_fwd_cpu_ms: s.fwdCpu,
    sparse_bwd_cpu_ms: s.bwdCpu,
    sparse_bwd_masked_cpu_ms: s.bwdMaskedCpu,
    dense_fwd_ms: d.fwdMs,
    dense_bwd_ms: d.bwdMs,
    sparse_fwd_ms: s.fwdMs,
    sparse_bwd_ms: s.bwdMs,
    sparse_bwd_masked_ms: s.bwdMaskedMs,
    dense_bwd_masked_cpu_ms: d.bwdMaskedCpu,
    dense_bwd_masked_ms: d.bwdMaskedMs,
  });
}
const sum = (f) => rows.reduce((acc, r) => acc + f(r) * r.count, 0);
const step = Object.fromEntries(Object.keys(rows[0]).filter((k) => k.endsWith('_ms') || k === 'gflop_per_call').map((k) => [k, sum((r) => r[k])]));
step.units = sum(() => 1);
// A training step's units, each phase's form: forward + backward (mask phase), forward + masked backward (weight phase).
const phases = ['mask', 'weight'].map((phase) => {
  const bwd = phase === 'mask' ? 'bwd' : 'bwd_masked';
  const denseCpu = step.dense_fwd_cpu_ms + step[`dense_${bwd}_cpu_ms`];
  const sparseCpu = step.sparse_fwd_cpu_ms + step[`sparse_${bwd}_cpu_ms`];
  const denseMs = step.dense_fwd_ms + step[`dense_${bwd}_ms`];
  const sparseMs = step.sparse_fwd_ms + step[`sparse_${bwd}_ms`];
  return { phase, dense_cpu_ms: denseCpu, sparse_cpu_ms: sparseCpu, cpu_ratio: denseCpu / sparseCpu, dense_ms: denseMs, sparse_ms: sparseMs, wall_ratio: denseMs / sparseMs };
});
const loadAverage = os.loadavg();
const stats = ortStats(backendName);
console.log(
  `ResNet-18 nf 20 units, batch ${batch}, filter density ${density}, ${reps} timed calls each, dense and sparse alternately; ` +
    `${runtime.intraOpThreads} threads; load average ${loadAverage.map((l) => l.toFixed(2)).join(' ')}\n`,
);
printTable(rows, ['unit', 'count', 'dense_fwd_cpu_ms', 'sparse_fwd_cpu_ms', 'dense_bwd_cpu_ms', 'sparse_bwd_cpu_ms', 'sparse_bwd_masked_cpu_ms', 'dense_fwd_ms', 'sparse_fwd_ms', 'dense_bwd_ms', 'sparse_bwd_ms', 'sparse_bwd_masked_ms']);
console.log(`\na training step's ${step.units} units (sparse: forward and masked backward on WebAssembly; unmasked backward's filter gradient on ONNX Runtime):\n`);
printTable(phases);
console.log(`\nsparse unit calls ${stats?.sparseRuns ?? 'n/a'}`);
await tf.setBackend('cpu');
tf.removeBackend(backendName);
writeResults('convbn-units', {
  config: { network: 'resnet18', nf: 20, input: [32, 32, 1], batch, mode: 'batch', density, reps, threads: runtime.intraOpThreads },
  seed,
  backend: backendName,
  load_average: loadAverage,
  rows,
  step,
  phases,
});
