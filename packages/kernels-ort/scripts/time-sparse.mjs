#!/usr/bin/env node
// Throwaway timing of the sparse conv + batch-norm unit (src/sparse-conv.ts) on ResNet-18 nf 20's unit shapes
// (32x32, batch 64, density 0.1), one thread ($THREADS for more): forward, backward with a gradMask (the filter's support), backward
// without (dense dc). Needs the built dist (npx tsc -b packages/kernels-ort). Usage: [THREADS=2] [UNIT=s4] [DENSITY=0.1] node scripts/time-sparse.mjs [reps] [--kernels]
import os from 'node:os';
import { createWasmPool, loadSupermaskKernels, sparseConvBnBackward, sparseConvBnForward } from '../dist/index.js';

const reps = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 3);
const perKernel = process.argv.includes('--kernels');
const module = loadSupermaskKernels();
const threads = Number(process.env.THREADS ?? 1);
const base = createWasmPool(module, { threads, initialBytes: 256 << 20 });
const kernelMs = new Map();
const pool = perKernel
  ? { f32: () => base.f32(), i32: () => base.i32(), f64: () => base.f64(), reset: () => base.reset(), alloc: (b, z) => base.alloc(b, z), call: (n, a) => base.call(n, a), dispose: () => base.dispose(), threads,
      run(name, args, items) { const t = performance.now(); base.run(name, args, items); kernelMs.set(name, (kernelMs.get(name) ?? 0) + performance.now() - t); } }
  : base;

function uniform(n, seed, lo = -1, hi = 1) {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; out[i] = lo + ((s >>> 0) / 4294967296) * (hi - lo); }
  return out;
}
const N = 64, D = Number(process.env.DENSITY ?? 0.1);
// [name, cin, cout, size, k, stride, pad, count in a ResNet-18 step]
const UNITS = [
  ['stem 1->20 3x3 @32', 1, 20, 32, 3, 1, 1, 1],
  ['s1 20->20 3x3 @32', 20, 20, 32, 3, 1, 1, 4],
  ['s2 20->40 3x3 s2 @32', 20, 40, 32, 3, 2, 1, 1],
  ['s2 shortcut 20->40 1x1 s2', 20, 40, 32, 1, 2, 0, 1],
  ['s2 40->40 3x3 @16', 40, 40, 16, 3, 1, 1, 3],
  ['s3 40->80 3x3 s2 @16', 40, 80, 16, 3, 2, 1, 1],
  ['s3 shortcut 40->80 1x1 s2', 40, 80, 16, 1, 2, 0, 1],
  ['s3 80->80 3x3 @8', 80, 80, 8, 3, 1, 1, 3],
  ['s4 80->160 3x3 s2 @8', 80, 160, 8, 3, 2, 1, 1],
  ['s4 shortcut 80->160 1x1 s2', 80, 160, 8, 1, 2, 0, 1],
  ['s4 160->160 3x3 @4', 160, 160, 4, 3, 1, 1, 3],
];
const breakdown = [];
const stepKernels = new Map();
let unitCount = 1;
const best = (fn) => {
  fn();
  kernelMs.clear();
  let b = Infinity;
  for (let r = 0; r < reps; r++) { const t = performance.now(); fn(); b = Math.min(b, performance.now() - t); }
  if (perKernel) {
    let inKernels = 0;
    for (const [n, v] of kernelMs) {
      inKernels += v / reps;
      stepKernels.set(n, (stepKernels.get(n) ?? 0) + (unitCount * v) / reps);
    }
    stepKernels.set('outside kernels', (stepKernels.get('outside kernels') ?? 0) + unitCount * b);
    breakdown.push(`${[...kernelMs].map(([n, v]) => `${n.slice(3)} ${(v / reps).toFixed(2)}`).join(', ')}; outside kernels ${(b - inKernels).toFixed(2)} (best)`);
  }
  return b;
};
console.log(`load ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}; batch ${N}, density ${D}, ${threads} thread(s), best of ${reps}`);
const rows = [];
let step = [0, 0, 0];
for (const [name, cin, cout, size, k, stride, pad, count] of UNITS.filter((u) => !process.env.UNIT || u[0].includes(process.env.UNIT))) {
  const x = uniform(N * cin * size * size, 1);
  const filter = uniform(k * k * cin * cout, 2);
  const keep = uniform(filter.length, 3, 0, 1);
  for (let i = 0; i < filter.length; i++) if (keep[i] >= D) filter[i] = 0;
  const gradMask = filter.map((v) => (v !== 0 ? 1 : 0));
  const attrs = { stride, pad, relu: true, mode: 'batch', epsilon: 1e-5 };
  const fwIn = { x, xShape: [N, cin, size, size], filter, filterShape: [k, k, cin, cout], attrs };
  kernelMs.clear();
  const fw = sparseConvBnForward(pool, fwIn);
  const dy = uniform(fw.y.length, 4);
  const bwIn = { dy, x, xShape: fwIn.xShape, filter, filterShape: fwIn.filterShape, y: fw.y, xhat: fw.xhat, invstd: fw.invstd, skip: false, attrs };
  unitCount = count;
  const tf = best(() => sparseConvBnForward(pool, fwIn));
  const tm = best(() => sparseConvBnBackward(pool, { ...bwIn, gradMask }));
  const td = best(() => sparseConvBnBackward(pool, bwIn));
  const nnz = gradMask.reduce((a, b) => a + b, 0);
  rows.push({ name, nnz, forward: tf, backwardMask: tm, backwardDense: td, count });
  step = [step[0] + count * tf, step[1] + count * tm, step[2] + count * td];
  const ks = perKernel ? '\n    fw: ' + breakdown.splice(0).join('\n    bw+dW: ').replace(/(bw\+dW: [^\n]*)\n    bw\+dW: /, '$1\n    bw dense: ') : '';
  console.log(`${name.padEnd(28)} nnz ${String(nnz).padStart(6)}  fw ${tf.toFixed(2).padStart(6)} ms  bw+dW(support) ${tm.toFixed(2).padStart(6)} ms  bw dense dc ${td.toFixed(2).padStart(6)} ms${ks}`);
}
console.log(`ResNet-18 step (units x count): forward ${step[0].toFixed(1)} ms, backward with dW at support ${step[1].toFixed(1)} ms, backward with dense dc ${step[2].toFixed(1)} ms`);
if (perKernel) {
  let inside = 0;
  for (const [n, v] of stepKernels) if (n !== 'outside kernels') inside += v;
  stepKernels.set('outside kernels', stepKernels.get('outside kernels') - inside);
  console.log(`step sums over forward + both backwards (ms): ${[...stepKernels].sort((a, b) => b[1] - a[1]).map(([n, v]) => `${n} ${v.toFixed(1)}`).join(', ')}`);
}
base.dispose();
