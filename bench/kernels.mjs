// npm run bench:kernels — GFLOP/s of each kernel on the plain tfjs cpu backend and on cpu + ONNX
// Runtime kernels (@supermask/kernels-ort), side by side in one process, on the shapes of LeNet
// 300-100 (batch 64) and of the reduced ResNet-18 (nf 20, 32x32, batch 64; 16 for the filter gradients). Then the ORT kernels
// under other thread settings (intra-op threads, spinning). Writes bench/results/kernels.json.
// BENCH_SECONDS: time per measurement (default 0.6); BENCH_QUICK=1: a few shapes only.
import * as tf from '@tensorflow/tfjs-core';
import { registerOrtBackend, unregisterOrtBackend, ortStats } from '@supermask/kernels-ort';
import { printTable, writeResults } from './common.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 0.6);
const quick = process.env.BENCH_QUICK === '1';
const ort = registerOrtBackend();

/** [name, kernel, input shapes, attrs, FLOPs of one call] */
const CASES = [
  ['LeNet fc1 forward (64x784 · 784x300)', 'BatchMatMul', { a: [64, 784], b: [784, 300] }, { transposeA: false, transposeB: false }, 2 * 64 * 784 * 300],
  ['LeNet fc1 dW (784x64 · 64x300, transpose a)', 'BatchMatMul', { a: [64, 784], b: [64, 300] }, { transposeA: true, transposeB: false }, 2 * 64 * 784 * 300],
  ['LeNet fc1 dx (64x300 · 300x784, transpose b)', 'BatchMatMul', { a: [64, 300], b: [784, 300] }, { transposeA: false, transposeB: true }, 2 * 64 * 784 * 300],
  ['matmul 256x784x300', 'BatchMatMul', { a: [256, 784], b: [784, 300] }, { transposeA: false, transposeB: false }, 2 * 256 * 784 * 300],
  ['matmul 1024x1024x1024', 'BatchMatMul', { a: [1024, 1024], b: [1024, 1024] }, { transposeA: false, transposeB: false }, 2 * 1024 ** 3],
  ['fused matmul + bias + relu (64x784x300)', '_FusedMatMul', { a: [64, 784], b: [784, 300], bias: [300] }, { transposeA: false, transposeB: false, activation: 'relu' }, 2 * 64 * 784 * 300 + 2 * 64 * 300],
  ['ResNet conv 3x3, 32x32, 20->20', 'Conv2D', { x: [64, 32, 32, 20], filter: [3, 3, 20, 20] }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 }, 2 * 64 * 32 * 32 * 20 * 9 * 20],
  ['ResNet conv 3x3 stride 2, 16x16, 40->80', 'Conv2D', { x: [64, 16, 16, 40], filter: [3, 3, 40, 80] }, { strides: 2, pad: 'same', dataFormat: 'NHWC', dilations: 1 }, 2 * 64 * 8 * 8 * 80 * 9 * 40],
  ['ResNet shortcut 1x1 stride 2, 16x16, 40->80', 'Conv2D', { x: [64, 16, 16, 40], filter: [1, 1, 40, 80] }, { strides: 2, pad: 'valid', dataFormat: 'NHWC', dilations: 1 }, 2 * 64 * 8 * 8 * 80 * 40],
  ['fused conv + bias + relu, 32x32, 20->20', 'FusedConv2D', { x: [64, 32, 32, 20], filter: [3, 3, 20, 20], bias: [20] }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, activation: 'relu' }, 2 * 64 * 32 * 32 * 20 * 9 * 20],
  ['conv dx 3x3, 32x32, 20->20', 'Conv2DBackpropInput', { dy: [64, 32, 32, 20], filter: [3, 3, 20, 20] }, { inputShape: [64, 32, 32, 20], strides: 1, pad: 'same', dataFormat: 'NHWC' }, 2 * 64 * 32 * 32 * 20 * 9 * 20],
  ['conv dx 3x3 stride 2, 16x16, 40->80', 'Conv2DBackpropInput', { dy: [64, 8, 8, 80], filter: [3, 3, 40, 80] }, { inputShape: [64, 16, 16, 40], strides: 2, pad: 'same', dataFormat: 'NHWC' }, 2 * 64 * 8 * 8 * 80 * 9 * 40],
  // Batch 16 for the filter gradients: plain tfjs cpu needs about 100 s for one at batch 64.
  ['conv dW 3x3, 32x32, 20->20, batch 16', 'Conv2DBackpropFilter', { x: [16, 32, 32, 20], dy: [16, 32, 32, 20] }, { filterShape: [3, 3, 20, 20], strides: 1, pad: 'same', dataFormat: 'NHWC' }, 2 * 16 * 32 * 32 * 20 * 9 * 20],
  ['conv dW 3x3 stride 2, 16x16, 40->80, batch 16', 'Conv2DBackpropFilter', { x: [16, 16, 16, 40], dy: [16, 8, 8, 80] }, { filterShape: [3, 3, 40, 80], strides: 2, pad: 'same', dataFormat: 'NHWC' }, 2 * 16 * 8 * 8 * 80 * 9 * 40],
  ['multiply 784x300 (W * M)', 'Multiply', { a: [784, 300], b: [784, 300] }, {}, 784 * 300],
  ['sign 784x300', 'Sign', { x: [784, 300] }, {}, 784 * 300],
];
const QUICK = new Set([0, 6, 10, 12, 14]);

function inputsFor(shapes) {
  const out = {};
  let seed = 1;
  for (const [name, shape] of Object.entries(shapes)) out[name] = tf.randomUniform(shape, -1, 1, 'float32', seed++);
  return out;
}

/** Median seconds of one call of `kernel` on the active backend. */
function time(kernel, inputs, attrs) {
  const once = () => {
    const t0 = performance.now();
    const out = tf.engine().runKernel(kernel, inputs, attrs);
    (Array.isArray(out) ? out[0] : out).dataSync();
    tf.dispose(out);
    return (performance.now() - t0) / 1000;
  };
  // The first call makes ORT's session; a plain-cpu call slower than the budget is measured once.
  const first = once();
  if (first >= seconds) return first;
  const samples = [once()];
  let total = samples[0];
  while (total < seconds && samples.length < 200) {
    const s = once();
    samples.push(s);
    total += s;
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

async function measure(backend, cases) {
  await tf.setBackend(backend);
  tf.backend().firstUse = false;
  const out = [];
  for (const [name, kernel, shapes, attrs, flops] of cases) {
    const inputs = inputsFor(shapes);
    const s = time(kernel, inputs, attrs);
    tf.dispose(Object.values(inputs));
    out.push({ name, kernel, seconds: s, gflops: flops / s / 1e9 });
  }
  return out;
}

const cases = CASES.filter((_, i) => !quick || QUICK.has(i));
const plain = await measure('cpu', cases);
const fast = await measure(ort.backendName, cases);
const rows = cases.map(([name, kernel, shapes], i) => ({
  kernel,
  case: name,
  cpu_gflops: plain[i].gflops,
  cpu_ort_gflops: fast[i].gflops,
  cpu_ms: plain[i].seconds * 1000,
  cpu_ort_ms: fast[i].seconds * 1000,
  speedup: plain[i].seconds / fast[i].seconds,
}));
console.log(`plain tfjs cpu vs cpu + ONNX Runtime ${ort.ortVersion} kernels (intra-op threads ${ort.intraOpThreads} from ${ort.parallelFlops / 1e6} MFLOP, else 1; spinning ${ort.spinning ? 'on' : 'off'})\n`);
printTable(rows.map((r) => ({ ...r, cpu_gflops: r.cpu_gflops.toFixed(2), cpu_ort_gflops: r.cpu_ort_gflops.toFixed(1), speedup: `${r.speedup.toFixed(1)}x`, cpu_ms: r.cpu_ms.toFixed(2), cpu_ort_ms: r.cpu_ort_ms.toFixed(3) })), ['kernel', 'case', 'cpu_gflops', 'cpu_ort_gflops', 'speedup', 'cpu_ms', 'cpu_ort_ms']);

// Thread settings of the ORT sessions, on the kernels that matter most.
const threadCases = CASES.filter((_, i) => [0, 4, 6, 12].includes(i));
const settings = [
  { intraOpThreads: 1, spinning: false },
  { intraOpThreads: 2, spinning: false },
  { intraOpThreads: 2, spinning: true },
];
// Here every kernel, however small, runs on the setting's threads.
const threadRows = [];
for (const setting of settings) {
  const name = `cpu-ort-t${setting.intraOpThreads}${setting.spinning ? 's' : ''}`;
  registerOrtBackend({ name, ...setting, parallelFlops: 0 });
  const results = await measure(name, threadCases);
  for (const [i, r] of results.entries()) {
    threadRows.push({ intra_op_threads: setting.intraOpThreads, spinning: setting.spinning ? 'on' : 'off', case: threadCases[i][0], gflops: r.gflops });
  }
  await tf.setBackend('cpu');
  unregisterOrtBackend(name);
}
console.log('\nONNX Runtime thread settings\n');
printTable(threadRows.map((r) => ({ ...r, gflops: r.gflops.toFixed(1) })));

writeResults('kernels', {
  config: { seconds_per_measurement: seconds, quick, ort_version: ort.ortVersion, intra_op_threads: ort.intraOpThreads, parallel_flops: ort.parallelFlops, spinning: ort.spinning, batch: 64 },
  seed: 1,
  backend: { plain: 'cpu', fast: ort.backendName },
  rows,
  thread_settings: threadRows,
  sessions: ortStats(ort.backendName),
});
