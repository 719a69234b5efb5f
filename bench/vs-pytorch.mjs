// npm run bench:vs-pytorch — the project against PyTorch on the same machine, the same network,
// batch, density and phase, measured alternately in one sitting (project, peer, project, peer...)
// so that a shared machine's load hits both alike:
// - LeNet 300-100 (28x28): configs/split-fmnist-supsup.json (mask phase),
//   configs/split-fmnist-exssnet.json with its mask phase cut to 0 epochs (weight phase);
// - ResNet-18 nf 20 (32x32, Fashion-MNIST padded): configs/split-fmnist-resnet18-supsup.json and
//   -exssnet.json the same way;
// - with BENCH_RESNET50=1, ResNet-50 (nf 64, 64x64x3 inputs) too, project only (the peer would
//   take minutes per measurement here), batch BENCH_RESNET50_BATCH (default 16).
// Density 0.1, batch 64, Adam, backend cpu (= cpu-ort here). The peer is bench/peer/supermask_peer.py
// (python3 with torch, else /usr/bin/python3; PyTorch on 2 threads, SupSup's GetSubnet top-k);
// without torch it says so and exits 0. BENCH_ROUNDS (default 2) alternations per row, the best
// of each side is the row; BENCH_STEPS_LENET (100) and BENCH_STEPS_RESNET (8) counted steps per
// measurement (the first step is not counted on either side). Besides samples/s, the CPU time
// per step of each side's process (all threads; the least of the rounds): the work a step costs,
// which a loaded machine does not inflate as it does wall time. BENCH_OP_BY_OP=1 also times the
// ResNets with the fused conv + batch-norm kernels off (SUPERMASK_FUSED_CONV=0) in each round;
// BENCH_NO_NCHWC=1 likewise without ONNX Runtime's blocked NCHWc convolutions (SUPERMASK_ORT_NCHWC=0),
// BENCH_DENSE_UNITS=1 with the dense ONNX Runtime units instead of the sparse WebAssembly ones
// (SUPERMASK_SPARSE_CONV=0).
// Writes bench/results/vs-pytorch.json.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { createRegistry } from '@supermask/cli';
import { printTable, root, timedPhase, weightPhaseOnly, writeResults } from './common.mjs';

const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));
const lenetSteps = Number(process.env.BENCH_STEPS_LENET ?? 100);
const resnetSteps = Number(process.env.BENCH_STEPS_RESNET ?? 8);
const threads = Number(process.env.BENCH_PEER_THREADS ?? Math.min(2, os.cpus().length));
const compareOpByOp = process.env.BENCH_OP_BY_OP === '1';
const compareNoNchwc = process.env.BENCH_NO_NCHWC === '1';
const compareDenseUnits = process.env.BENCH_DENSE_UNITS === '1';
/** The default side's sparse-unit setting (SUPERMASK_SPARSE_CONV as the run started). */
const sparseConvSetting = process.env.SUPERMASK_SPARSE_CONV ?? 'auto';
/** Project-side variants timed in each round of the ResNet rows besides the default path. */
const variants = [
  ...(compareOpByOp ? [{ side: 'project-op-by-op', env: 'SUPERMASK_FUSED_CONV', column: 'project op by op' }] : []),
  ...(compareNoNchwc ? [{ side: 'project-no-nchwc', env: 'SUPERMASK_ORT_NCHWC', column: 'project without NCHWc' }] : []),
  ...(compareDenseUnits ? [{ side: 'project-dense-units', env: 'SUPERMASK_SPARSE_CONV', column: 'project dense units' }] : []),
];
const peerScript = join(root, 'bench', 'peer', 'supermask_peer.py');
// OpenMP's waiting threads sleep instead of spinning, as ONNX Runtime's do here: on a shared
// machine spinning workers cost PyTorch up to 7x (ResNet-18 weight phase at load 20: 7.8 samples/s
// spinning, 55 passive).
const PEER_ENV = { OMP_NUM_THREADS: String(threads), OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };

const rows = [
  { net: 'lenet', label: 'LeNet 300-100 (28x28)', phase: 'mask', file: 'split-fmnist-supsup.json', steps: lenetSteps },
  { net: 'lenet', label: 'LeNet 300-100 (28x28)', phase: 'weight', file: 'split-fmnist-exssnet.json', edit: weightPhaseOnly, steps: lenetSteps },
  { net: 'resnet18', label: 'ResNet-18 nf 20 (32x32)', phase: 'mask', file: 'split-fmnist-resnet18-supsup.json', steps: resnetSteps },
  { net: 'resnet18', label: 'ResNet-18 nf 20 (32x32)', phase: 'weight', file: 'split-fmnist-resnet18-exssnet.json', edit: weightPhaseOnly, steps: resnetSteps },
];
if (process.env.BENCH_RESNET50 === '1') {
  const batch = Number(process.env.BENCH_RESNET50_BATCH ?? 16);
  const label = `ResNet-50 nf 64 (64x64, batch ${batch})`;
  const resnet50 = (phase) => (raw) => {
    if (phase === 'weight') weightPhaseOnly(raw);
    raw.backbone = { id: 'resnet50', options: { nf: 64 } };
    raw.stream.options.pad_to = [64, 64];
    raw.strategy.options[`${phase}_phase`].batch_size = batch;
  };
  for (const [phase, file] of [['mask', 'split-fmnist-resnet18-supsup.json'], ['weight', 'split-fmnist-resnet18-exssnet.json']]) {
    rows.push({ net: 'resnet50', label, phase, file, edit: resnet50(phase), steps: 2, batch, peer: false });
  }
}

/** The first python that imports torch, or null. */
function findPython() {
  for (const python of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (probe.status === 0) return { python, torch: probe.stdout.trim() };
  }
  return null;
}

function runPeer(python, row) {
  const args = [peerScript, '--net', row.net, '--phase', row.phase, '--steps', String(row.steps), '--batch', String(row.batch ?? 64), '--threads', String(threads)];
  const out = spawnSync(python, args, { encoding: 'utf8', env: { ...process.env, ...PEER_ENV } });
  if (out.status !== 0) throw new Error(`peer ${args.join(' ')} failed (${out.status}): ${out.stderr || out.stdout}`);
  return JSON.parse(out.stdout.trim().split('\n').at(-1));
}

const peer = findPython();
if (!peer) {
  console.log('PyTorch peer not installed: no python3 here imports torch (Debian: apt-get install python3-torch). Nothing measured.');
  process.exit(0);
}
console.log(`peer: ${peer.python}, torch ${peer.torch}, ${threads} threads, OMP_WAIT_POLICY=${PEER_ENV.OMP_WAIT_POLICY}; ${rounds} alternating rounds per row\n`);

const measurements = [];
const results = [];
for (const row of rows) {
  let project = 0;
  let pytorch = row.peer === false ? null : 0;
  const other = {};
  let projectCpu = Infinity;
  let pytorchCpu = Infinity;
  let config;
  for (let r = 0; r < rounds; r++) {
    const p = await timedPhase({ file: row.file, phase: row.phase, edit: row.edit, steps: row.steps, batch: row.batch ?? 64, createRegistry });
    config = p.config;
    measurements.push({ net: row.net, phase: row.phase, side: 'project', round: r, samples_per_second: p.samples_per_second, cpu_ms_per_step: p.cpu_ms_per_step, backend: p.backend, load_average: p.load_average });
    project = Math.max(project, p.samples_per_second);
    projectCpu = Math.min(projectCpu, p.cpu_ms_per_step);
    for (const variant of variants) {
      if (row.net === 'lenet') continue;
      // The same network with one part of the fast path switched off by its environment variable.
      const previous = process.env[variant.env];
      process.env[variant.env] = '0';
      try {
        const o = await timedPhase({ file: row.file, phase: row.phase, edit: row.edit, steps: row.steps, batch: row.batch ?? 64, createRegistry });
        measurements.push({ net: row.net, phase: row.phase, side: variant.side, round: r, samples_per_second: o.samples_per_second, cpu_ms_per_step: o.cpu_ms_per_step, backend: o.backend, load_average: o.load_average });
        const best = (other[variant.side] ??= { samples_per_second: 0, cpu_ms_per_step: Infinity });
        best.samples_per_second = Math.max(best.samples_per_second, o.samples_per_second);
        best.cpu_ms_per_step = Math.min(best.cpu_ms_per_step, o.cpu_ms_per_step);
      } finally {
        if (previous === undefined) delete process.env[variant.env];
        else process.env[variant.env] = previous;
      }
    }
    if (pytorch !== null) {
      const load = os.loadavg()[0];
      const q = runPeer(peer.python, row);
      measurements.push({ net: row.net, phase: row.phase, side: 'pytorch', round: r, samples_per_second: q.samples_per_second, cpu_ms_per_step: q.cpu_ms_per_step, load_average: load });
      pytorch = Math.max(pytorch, q.samples_per_second);
      pytorchCpu = Math.min(pytorchCpu, q.cpu_ms_per_step);
    }
    const round = Object.fromEntries(measurements.filter((m) => m.net === row.net && m.phase === row.phase && m.round === r).map((m) => [m.side, m.samples_per_second.toFixed(1)]));
    console.log(`${row.label}, ${row.phase} phase, round ${r + 1}: ${Object.entries(round).map(([k, v]) => `${k} ${v}`).join(', ')} samples/s (load ${os.loadavg()[0].toFixed(2)})`);
  }
  results.push({ net: row.net, label: row.label, phase: row.phase, batch: row.batch ?? 64, steps: row.steps, project, pytorch, ratio: pytorch ? project / pytorch : null, project_cpu_ms_per_step: projectCpu, pytorch_cpu_ms_per_step: pytorch === null ? null : pytorchCpu, other, config_file: `configs/${row.file}`, config });
}

console.log(`\nproject (tfjs + ONNX Runtime kernels, best of ${rounds}) / PyTorch ${peer.torch} (${threads} threads, best of ${rounds}); samples/s; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} cores\n`);
printTable(
  results.map((r) => ({
    network: r.label,
    phase: r.phase,
    project: r.project.toFixed(1),
    pytorch: r.pytorch === null ? 'not run' : r.pytorch.toFixed(1),
    ratio: r.ratio === null ? '' : `${r.ratio.toFixed(2)}x`,
    'project CPU ms/step': r.project_cpu_ms_per_step.toFixed(0),
    'pytorch CPU ms/step': r.pytorch_cpu_ms_per_step === null ? '' : r.pytorch_cpu_ms_per_step.toFixed(0),
    'CPU-time ratio': r.pytorch_cpu_ms_per_step === null ? '' : `${(r.pytorch_cpu_ms_per_step / r.project_cpu_ms_per_step).toFixed(2)}x`,
    ...Object.fromEntries(
      variants.flatMap((v) => {
        const o = r.other[v.side];
        return [
          [v.column, o ? o.samples_per_second.toFixed(1) : ''],
          [`${v.column} CPU ms/step`, o ? o.cpu_ms_per_step.toFixed(0) : ''],
          [`CPU ms ratio ${v.column} / default`, o ? `${(o.cpu_ms_per_step / r.project_cpu_ms_per_step).toFixed(3)}x` : ''],
        ];
      }),
    ),
  })),
);
writeResults('vs-pytorch', {
  config: Object.fromEntries(results.map((r) => [`${r.net}/${r.phase}`, { file: r.config_file, config: r.config, batch: r.batch, steps: r.steps }])),
  seed: results[0]?.config.seed,
  backend: measurements.find((m) => m.side === 'project')?.backend,
  peer: { python: peer.python, torch: peer.torch, threads, env: PEER_ENV, script: 'bench/peer/supermask_peer.py', select: 'sort' },
  rounds,
  fused_conv: process.env.SUPERMASK_FUSED_CONV !== '0',
  sparse_conv: sparseConvSetting,
  load_average_end: os.loadavg(),
  rows: results.map(({ net, phase, project, pytorch, ratio }) => ({ net, phase, project, pytorch, ratio })),
  cpu_time: results.map(({ net, phase, project_cpu_ms_per_step, pytorch_cpu_ms_per_step }) => ({
    net,
    phase,
    project_ms_per_step: project_cpu_ms_per_step,
    pytorch_ms_per_step: pytorch_cpu_ms_per_step,
    ratio: pytorch_cpu_ms_per_step === null ? null : pytorch_cpu_ms_per_step / project_cpu_ms_per_step,
  })),
  op_by_op: compareOpByOp ? results.map(({ net, phase, other }) => ({ net, phase, samples_per_second: other['project-op-by-op']?.samples_per_second ?? null })) : undefined,
  no_nchwc: compareNoNchwc
    ? results.map(({ net, phase, other }) => ({ net, phase, samples_per_second: other['project-no-nchwc']?.samples_per_second ?? null, cpu_ms_per_step: other['project-no-nchwc']?.cpu_ms_per_step ?? null }))
    : undefined,
  dense_units: compareDenseUnits
    ? results.map(({ net, phase, other }) => ({ net, phase, samples_per_second: other['project-dense-units']?.samples_per_second ?? null, cpu_ms_per_step: other['project-dense-units']?.cpu_ms_per_step ?? null }))
    : undefined,
  measurements,
});
