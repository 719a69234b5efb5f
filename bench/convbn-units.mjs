// npm run bench:convbn-units — the fused conv + batch-norm unit's two ONNX Runtime sessions
// (@supermask/kernels-ort's SupermaskConvBn forward, SupermaskConvBnGrad backward) on each unit
// shape of ResNet-18 nf 20 (32x32 Fashion-MNIST-padded inputs, batch 64, training mode), timed
// alone: CPU time of the process (every thread: the work a call costs, which a loaded machine does
// not inflate) and wall time per call, and their sum over the 20 units of one training step.
// Each unit with NCHWc (the default) and without (SUPERMASK_ORT_NCHWC=0), alternately.
// BENCH_REPS (default 5) timed calls per unit after one untimed call (session creation).
// Writes bench/results/convbn-units.json.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { nchwcBlockSize, ortRuntime, registerOrtBackend } from '@supermask/kernels-ort';
import { printTable, processCpuMs, RESNET18_UNITS, unitInputs, writeResults } from './common.mjs';

const reps = Math.max(1, Number(process.env.BENCH_REPS ?? 5));
const batch = 64;
const seed = 0;
const units = RESNET18_UNITS;

const { backendName } = registerOrtBackend();
await tf.setBackend(backendName);
const runtime = ortRuntime(backendName);
const cpuMs = processCpuMs;

// Each unit is timed with ONNX Runtime's blocked NCHWc convolutions where the unit's channels fill
// whole blocks (the default) and with plain Conv graphs only (SUPERMASK_ORT_NCHWC=0), alternately.
const block = nchwcBlockSize(runtime);
const variants = [['default', undefined], ['no_nchwc', '0']];
const rows = [];
for (const unit of units) {
  const [cin, cout, , stride, , , skip, count] = unit;
  const { x, filter, skipIn, dy, attrs, inputs, label, gflop } = unitInputs(unit, batch, seed, tf);
  const t = Object.fromEntries(variants.map(([v]) => [v, { fwdCpu: 0, bwdCpu: 0, fwdMs: 0, bwdMs: 0 }]));
  for (let r = 0; r <= reps; r++) {
    for (const [variant, env] of variants) {
      if (env === undefined) delete process.env.SUPERMASK_ORT_NCHWC;
      else process.env.SUPERMASK_ORT_NCHWC = env;
      const c0 = cpuMs();
      const w0 = performance.now();
      const outs = tf.engine().runKernel('SupermaskConvBn', inputs, attrs);
      const c1 = cpuMs();
      const w1 = performance.now();
      const grads = tf.engine().runKernel('SupermaskConvBnGrad', { dy, x, filter, y: outs[0], xhat: outs[1], invstd: outs[2] }, { ...attrs, skip });
      const c2 = cpuMs();
      const w2 = performance.now();
      if (r > 0) {
        t[variant].fwdCpu += (c1 - c0) / reps;
        t[variant].bwdCpu += (c2 - c1) / reps;
        t[variant].fwdMs += (w1 - w0) / reps;
        t[variant].bwdMs += (w2 - w1) / reps;
      }
      tf.dispose([...outs, ...grads]);
    }
  }
  delete process.env.SUPERMASK_ORT_NCHWC;
  tf.dispose([x, filter, skipIn, dy]);
  rows.push({
    unit: label,
    count,
    gflop_per_call: gflop,
    nchwc: block !== undefined && cin % block === 0 && cout % block === 0 ? (stride === 1 ? 'fwd+dx' : 'fwd') : '',
    fwd_cpu_ms: t.default.fwdCpu,
    bwd_cpu_ms: t.default.bwdCpu,
    fwd_ms: t.default.fwdMs,
    bwd_ms: t.default.bwdMs,
    no_nchwc_fwd_cpu_ms: t.no_nchwc.fwdCpu,
    no_nchwc_bwd_cpu_ms: t.no_nchwc.bwdCpu,
  });
}
const sum = (f) => rows.reduce((s, r) => s + f(r) * r.count, 0);
const step = {
  units: sum(() => 1),
  fwd_cpu_ms: sum((r) => r.fwd_cpu_ms),
  bwd_cpu_ms: sum((r) => r.bwd_cpu_ms),
  fwd_ms: sum((r) => r.fwd_ms),
  bwd_ms: sum((r) => r.bwd_ms),
  no_nchwc_fwd_cpu_ms: sum((r) => r.no_nchwc_fwd_cpu_ms),
  no_nchwc_bwd_cpu_ms: sum((r) => r.no_nchwc_bwd_cpu_ms),
  gflop: sum((r) => r.gflop_per_call),
};
const loadAverage = os.loadavg();
console.log(`ResNet-18 nf 20 units, batch ${batch}, ${reps} timed calls each; ORT ${runtime.intraOpThreads} intra-op threads, spinning ${runtime.spinning ? 'on' : 'off'}; NCHWc block ${block ?? 'none (contrib ops missing)'}; load average ${loadAverage.map((l) => l.toFixed(2)).join(' ')}\n`);
printTable(rows, ['unit', 'count', 'gflop_per_call', 'nchwc', 'fwd_cpu_ms', 'bwd_cpu_ms', 'no_nchwc_fwd_cpu_ms', 'no_nchwc_bwd_cpu_ms', 'fwd_ms', 'bwd_ms']);
console.log(
  `\na training step's ${step.units} units: forward ${step.fwd_cpu_ms.toFixed(1)} ms CPU (${step.fwd_ms.toFixed(1)} ms wall), backward ${step.bwd_cpu_ms.toFixed(1)} ms CPU (${step.bwd_ms.toFixed(1)} ms wall); ` +
    `${step.gflop.toFixed(2)} GFLOP forward (x3 with the backward): ${((3 * step.gflop) / ((step.fwd_cpu_ms + step.bwd_cpu_ms) / 1000)).toFixed(0)} GFLOP per CPU second`,
);
console.log(
  `without NCHWc (SUPERMASK_ORT_NCHWC=0, alternating): forward ${step.no_nchwc_fwd_cpu_ms.toFixed(1)} ms CPU, backward ${step.no_nchwc_bwd_cpu_ms.toFixed(1)} ms CPU; ` +
    `ratio without / with: forward ${(step.no_nchwc_fwd_cpu_ms / step.fwd_cpu_ms).toFixed(3)}x, backward ${(step.no_nchwc_bwd_cpu_ms / step.bwd_cpu_ms).toFixed(3)}x, ` +
    `both ${((step.no_nchwc_fwd_cpu_ms + step.no_nchwc_bwd_cpu_ms) / (step.fwd_cpu_ms + step.bwd_cpu_ms)).toFixed(3)}x`,
);
await tf.setBackend('cpu');
tf.removeBackend(backendName);
writeResults('convbn-units', {
  config: { network: 'resnet18', nf: 20, input: [32, 32, 1], batch, mode: 'batch', reps, intra_op_threads: runtime.intraOpThreads, spinning: runtime.spinning, nchwc_block: block ?? null },
  seed,
  backend: backendName,
  load_average: loadAverage,
  rows,
  step,
});
