// npm run bench:profile-resnet — where the time of a ResNet-18 training step goes on cpu-ort:
// every tfjs kernel of the backend is wrapped with a timer (exclusive time: a kernel that runs
// another through the registry is charged its own share only), and ONNX Runtime's session runs
// are timed apart from the kernels that call them (the rest of such a kernel is copies in and out
// of tfjs and graph bookkeeping). Besides wall time, the CPU time of the process (every thread:
// the work done, whatever the machine's load) per kernel and per step. The first batch of each phase (session creation) is not
// counted. Mask phase: configs/split-fmnist-resnet18-supsup.json; weight phase:
// configs/split-fmnist-resnet18-exssnet.json with its mask phase cut to 0 epochs. BENCH_STEPS
// (default 4) counted steps per phase, SUPERMASK_FUSED_CONV=0 profiles the op-by-op path.
// Writes bench/results/profile-resnet.json.
import * as tf from '@tensorflow/tfjs-core';
import { createRegistry } from '@supermask/cli';
import { OrtRuntime } from '@supermask/kernels-ort';
import { printTable, resnet18Phases, timedPhase, writeResults } from './common.mjs';

const steps = Math.max(1, Number(process.env.BENCH_STEPS ?? 4));
const batch = 64;
const fused = process.env.SUPERMASK_FUSED_CONV !== '0';
const phases = resnet18Phases(batch);

/** Exclusive time per kernel name while `counting`, and ORT session time per calling kernel. */
const timer = { counting: false, stack: [], kernels: new Map(), ort: new Map() };
function charge(map, name, ms, cpuMs = 0, calls = 1) {
  const e = map.get(name) ?? { ms: 0, cpuMs: 0, calls: 0 };
  e.ms += ms;
  e.cpuMs += cpuMs;
  e.calls += calls;
  map.set(name, e);
}

function wrapKernels(backendName) {
  for (const config of tf.getKernelsForBackend(backendName)) {
    if (config.__timed) continue;
    const inner = config.kernelFunc;
    tf.unregisterKernel(config.kernelName, backendName);
    tf.registerKernel({
      ...config,
      __timed: true,
      kernelFunc: (args) => {
        if (!timer.counting) return inner(args);
        const frame = { name: config.kernelName, child: 0, childCpu: 0 };
        timer.stack.push(frame);
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        try {
          return inner(args);
        } finally {
          const ms = performance.now() - t0;
          const c = process.cpuUsage(c0);
          const cpuMs = (c.user + c.system) / 1000;
          timer.stack.pop();
          const parent = timer.stack.at(-1);
          if (parent) {
            parent.child += ms;
            parent.childCpu += cpuMs;
          }
          charge(timer.kernels, config.kernelName, ms - frame.child, cpuMs - frame.childCpu);
        }
      },
    });
  }
}

const runOutputs = OrtRuntime.prototype.runOutputs;
OrtRuntime.prototype.runOutputs = function (...args) {
  if (!timer.counting) return runOutputs.apply(this, args);
  const t0 = performance.now();
  try {
    return runOutputs.apply(this, args);
  } finally {
    charge(timer.ort, timer.stack.at(-1)?.name ?? '(outside a kernel)', performance.now() - t0);
  }
};

const report = [];
for (const { phase, file, edit } of phases) {
  timer.kernels.clear();
  timer.ort.clear();
  const r = await timedPhase({
    file,
    phase,
    edit,
    steps,
    batch,
    createRegistry,
    hooks: {
      ready: (experiment) => wrapKernels(experiment.backendSelection.backend),
      start: () => (timer.counting = true),
      stop: () => (timer.counting = false),
    },
  });
  const stepMs = r.ms;
  // timedPhase measures the process's CPU time over the counted batches.
  const stepCpu = r.cpu_ms_per_step * steps;
  const kernelMs = [...timer.kernels.values()].reduce((s, e) => s + e.ms, 0);
  const ortMs = [...timer.ort.values()].reduce((s, e) => s + e.ms, 0);
  const rows = [...timer.kernels.entries()]
    .map(([kernel, e]) => ({
      kernel,
      calls_per_step: e.calls / steps,
      ms_per_step: e.ms / steps,
      cpu_ms_per_step: e.cpuMs / steps,
      ort_ms_per_step: (timer.ort.get(kernel)?.ms ?? 0) / steps,
      share: e.ms / stepMs,
    }))
    .sort((a, b) => b.ms_per_step - a.ms_per_step);
  const kernelCpu = [...timer.kernels.values()].reduce((s, e) => s + e.cpuMs, 0);
  rows.push({ kernel: '(outside kernels: tape, mask selection, JS)', calls_per_step: 0, ms_per_step: (stepMs - kernelMs) / steps, cpu_ms_per_step: (stepCpu - kernelCpu) / steps, ort_ms_per_step: 0, share: 1 - kernelMs / stepMs });
  console.log(
    `\nResNet-18 nf 20, 32x32, batch ${batch}, density 0.1, ${phase} phase, backend ${r.backend}, fused conv + batch norm ${fused ? 'on' : 'off'}: ` +
      `${(stepMs / steps).toFixed(1)} ms a step (${r.samples_per_second.toFixed(1)} samples/s; CPU time of the process ${(stepCpu / steps).toFixed(1)} ms a step), of which ORT session runs ${(ortMs / steps).toFixed(1)} ms; load average ${r.load_average.toFixed(2)}\n`,
  );
  printTable(rows.map((x) => ({ ...x, ms_per_step: x.ms_per_step.toFixed(2), cpu_ms_per_step: x.cpu_ms_per_step.toFixed(2), ort_ms_per_step: x.ort_ms_per_step.toFixed(2), share: `${(100 * x.share).toFixed(1)}%` })));
  report.push({ phase, backend: r.backend, steps, ms_per_step: stepMs / steps, cpu_ms_per_step: stepCpu / steps, samples_per_second: r.samples_per_second, ort_ms_per_step: ortMs / steps, load_average: r.load_average, kernels: rows, config: r.config, data: r.data });
}
writeResults('profile-resnet', {
  config: report.map((r) => r.config),
  seed: report[0]?.config.seed,
  backend: report[0]?.backend,
  fused,
  data: report[0]?.data,
  phases: report.map(({ config, ...r }) => r),
});
