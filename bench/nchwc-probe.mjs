// npm run bench:nchwc-probe — does ONNX Runtime's blocked NCHWc convolution (contrib domain
// com.microsoft.nchwc: ReorderInput, Conv, ReorderOutput; MLAS) accept a filter that is a graph
// input (W * M changes every step), give Conv's numbers, and how fast is it on ResNet-18 nf 20's
// shapes (batch 64)? Each shape: the plain NCHW Conv graph the fused unit uses today (filter in
// tfjs layout, Transposed in the graph) against ReorderInput -> NchwcConv -> ReorderOutput with
// the filter padded to the block size and reordered in the graph (Pad, Reshape, Transpose),
// timed alternately, CPU time of the process per call. Block size probed at run time. Also:
// the filter gradient as one NCHWc convolution (batch as channels) against today's per-tap Gemms,
// and the dx of a strided 1x1 by ConvTranspose against a 1x1 Conv spread onto every s-th pixel.
// BENCH_REPS (default 8). Writes bench/results/nchwc-probe.json.
import os from 'node:os';
import { GraphBuilder, NCHWC_DOMAIN as NCHWC, OrtRuntime, nchwcBlockSize } from '@supermask/kernels-ort';
import { printTable, processCpuMs as cpuMs, writeResults } from './common.mjs';

const reps = Math.max(1, Number(process.env.BENCH_REPS ?? 8));
const batch = 64;
const seed = 7;
const runtime = new OrtRuntime({ intraOpThreads: 2, parallelFlops: 0 });

// Block size: ReorderInput pads the channels to a multiple of it.
const block = nchwcBlockSize(runtime);
if (block === undefined) {
  console.log(`NCHWc contrib ops not available in this onnxruntime-node (${runtime.version})`);
  process.exit(0);
}
console.log(`onnxruntime-node ${runtime.version}: NCHWc block size ${block}`);

const up = (c) => Math.ceil(c / block) * block;
let state = seed;
const random = (n) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    a[i] = state / 2 ** 32 - 0.5;
  }
  return a;
};

/**
 * Runs two graphs (named by `names`, built by `builds`) on the same feeds: the largest difference
 * of their outputs relative to the first's largest value, and each one's CPU ms a call over
 * `reps` alternating timed calls (after the untimed first call that creates the sessions).
 */
function compare(key, names, builds, feeds, flops) {
  const [a, b] = names.map((name, i) => runtime.run(`${name}|${key}`, builds[i], feeds, flops));
  let maxErr = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    maxErr = Math.max(maxErr, Math.abs(a[i] - b[i]));
    maxAbs = Math.max(maxAbs, Math.abs(a[i]));
  }
  const ms = [0, 0];
  for (let r = 0; r < reps; r++) {
    names.forEach((name, i) => {
      const c0 = cpuMs();
      runtime.run(`${name}|${key}`, builds[i], feeds, flops);
      ms[i] += (cpuMs() - c0) / reps;
    });
  }
  return { relError: (maxErr / maxAbs).toExponential(1), ms };
}

/** The timing columns of a row: each graph's CPU ms a call and GFLOP/s of CPU time (columns prefixed `a`, `b`), and a / b. */
function timings([a, b], ms, flops) {
  return {
    [`${a}_cpu_ms`]: ms[0],
    [`${b}_cpu_ms`]: ms[1],
    [`${a}_gflops_per_cpu_s`]: flops / 1e6 / ms[0],
    [`${b}_gflops_per_cpu_s`]: flops / 1e6 / ms[1],
    speedup: ms[0] / ms[1],
  };
}

/** NCHWc filter [Op, Ip, k, k] (OIHWBiBo) or [Op, cin, k, k] (OIHWBo, NCHW input) from tfjs's [k, k, cin, cout]. */
function nchwcFilter(gb, f, k, cin, cout, blockedInput) {
  const ip = blockedInput ? up(cin) : cin;
  const op = up(cout);
  let w = f;
  if (ip !== cin || op !== cout) w = gb.node('Pad', [w, gb.constantInt64([0, 0, 0, 0, 0, 0, ip - cin, op - cout])]);
  if (blockedInput) {
    w = gb.node('Reshape', [w, gb.constantInt64([k, k, ip / block, block, op / block, block])]);
    w = gb.node('Transpose', [w], { perm: [4, 2, 0, 1, 3, 5] });
  } else {
    w = gb.node('Reshape', [w, gb.constantInt64([k, k, cin, op / block, block])]);
    w = gb.node('Transpose', [w], { perm: [3, 2, 0, 1, 4] });
  }
  return gb.node('Reshape', [w, gb.constantInt64([op, ip, k, k])]);
}

const shapes = [
  // [in, out, kernel, stride, size, what]
  [1, 20, 3, 1, 32, 'stem'],
  [20, 20, 3, 1, 32, 'layer1 (x4), and its dx'],
  [20, 40, 3, 2, 32, 'layer2 first'],
  [20, 40, 1, 2, 32, 'layer2 shortcut'],
  [40, 40, 3, 1, 16, 'layer2 (x3), dx'],
  [40, 80, 3, 2, 16, 'layer3 first'],
  [40, 80, 1, 2, 16, 'layer3 shortcut'],
  [80, 80, 3, 1, 8, 'layer4 (x3), dx'],
  [80, 160, 3, 2, 8, 'layer4 first'],
  [80, 160, 1, 2, 8, 'layer4 shortcut'],
  [160, 160, 3, 1, 4, 'layer5 (x3), dx'],
];

const rows = [];
for (const [cin, cout, k, stride, size, what] of shapes) {
  const pad = (k - 1) / 2;
  const out = Math.floor((size + 2 * pad - k) / stride) + 1;
  const flops = 2 * batch * out * out * cout * k * k * cin;
  const conv = { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad], dilations: [1, 1], group: 1 };
  const xDims = ['N', cin, size, size];
  const fDims = [k, k, cin, cout];
  const plain = () => {
    const gb = new GraphBuilder();
    const w = gb.node('Transpose', [gb.input('in1', fDims)], { perm: [3, 2, 0, 1] });
    gb.node('Conv', [gb.input('in0', xDims), w], conv, 'y');
    gb.output('y', 'y', ['N', cout, out, out]);
    return gb.encode();
  };
  const blockedInput = cin >= block || cin % 4 === 0;
  const blocked = () => {
    const gb = new GraphBuilder();
    let x = gb.input('in0', xDims);
    if (blockedInput) x = gb.domainNode(NCHWC, 1, 'ReorderInput', [x]);
    const w = nchwcFilter(gb, gb.input('in1', fDims), k, cin, cout, blockedInput);
    const c = gb.domainNode(NCHWC, 1, 'Conv', [x, w], conv);
    gb.domainNode(NCHWC, 1, 'ReorderOutput', [c], { channels: cout }, 'y');
    gb.output('y', 'y', ['N', cout, out, out]);
    return gb.encode();
  };
  const feeds = [
    { data: random(batch * cin * size * size), dims: [batch, cin, size, size] },
    { data: random(k * k * cin * cout), dims: fDims },
  ];
  const key = `${cin}|${cout}|${k}|${stride}|${size}`;
  const { relError, ms } = compare(key, ['plain', 'nchwc'], [plain, blocked], feeds, flops);
  const padded = (blockedInput ? up(cin) : cin) * up(cout);
  rows.push({
    shape: `${cin}->${cout} ${k}x${k} s${stride} @${size}`,
    what,
    gflop: flops / 1e9,
    max_rel_error: relError,
    padding_waste: padded / (cin * cout) - 1,
    ...timings(['conv', 'nchwc'], ms, flops),
  });
}

// The filter gradient: today's graph (NHWC copies, one strided Slice + Gemm per tap) against one
// NCHWc convolution with the batch as the channels: dW[o, i] = sum_n x[i, n] (*) dc[o, n] (the
// output gradient as a dilated kernel of oh x ow), then ReorderOutput and Transpose to [k, k, in, out].
const dwRows = [];
for (const [cin, cout, k, stride, size] of shapes) {
  if (cin < 4) continue;
  const p = (k - 1) / 2;
  const s = stride;
  const out = Math.floor((size + 2 * p - k) / stride) + 1;
  const flops = 2 * batch * out * out * cout * k * k * cin;
  const xDims = ['N', cin, size, size];
  const dcDims = ['N', cout, out, out];
  const bottom = k + (out - 1) * s - size - p;
  const taps = () => {
    const gb = new GraphBuilder();
    let xt = gb.node('Transpose', [gb.input('in0', xDims)], { perm: [0, 2, 3, 1] });
    if (p || bottom > 0) xt = gb.node('Pad', [xt, gb.constantInt64([0, p, p, 0, 0, Math.max(0, bottom), Math.max(0, bottom), 0])]);
    const dcRows = gb.node('Reshape', [gb.node('Transpose', [gb.input('in1', dcDims)], { perm: [0, 2, 3, 1] }), gb.constantInt64([-1, cout])]);
    const list = [];
    for (let r = 0; r < k; r++) {
      for (let q = 0; q < k; q++) {
        const slice = gb.node('Slice', [xt, gb.constantInt64([r, q]), gb.constantInt64([r + (out - 1) * s + 1, q + (out - 1) * s + 1]), gb.constantInt64([1, 2]), gb.constantInt64([s, s])]);
        list.push(gb.node('Gemm', [gb.node('Reshape', [slice, gb.constantInt64([-1, cin])]), dcRows], { transA: 1 }));
      }
    }
    const dw = list.length === 1 ? list[0] : gb.node('Concat', list, { axis: 0 });
    gb.node('Reshape', [dw, gb.constantInt64([k, k, cin, cout])], {}, 'y');
    gb.output('y', 'y', [k, k, cin, cout]);
    return gb.encode();
  };
  const blocked = () => {
    const gb = new GraphBuilder();
    // x as [in, N, h, w] in NCHWc (N = 64 the channels), dc as an OIHWBiBo filter [out, N, oh, ow].
    const xr = gb.domainNode(NCHWC, 1, 'ReorderInput', [gb.node('Transpose', [gb.input('in0', xDims)], { perm: [1, 0, 2, 3] })]);
    const np = up(batch);
    const op = up(cout);
    let f = gb.input('in1', dcDims);
    if (np !== batch || op !== cout) f = gb.node('Pad', [f, gb.constantInt64([0, 0, 0, 0, np - batch, op - cout, 0, 0])]);
    f = gb.node('Reshape', [f, gb.constantInt64([np / block, block, op / block, block, out, out])]);
    f = gb.node('Reshape', [gb.node('Transpose', [f], { perm: [2, 0, 4, 5, 1, 3] }), gb.constantInt64([op, np, out, out])]);
    const extra = Math.max(0, bottom);
    let c = gb.domainNode(NCHWC, 1, 'Conv', [xr, f], { kernel_shape: [out, out], strides: [1, 1], pads: [p, p, extra, extra], dilations: [s, s], group: 1 });
    c = gb.domainNode(NCHWC, 1, 'ReorderOutput', [c], { channels: cout });
    if (bottom < 0) c = gb.node('Slice', [c, gb.constantInt64([0, 0]), gb.constantInt64([k, k]), gb.constantInt64([2, 3])]);
    gb.node('Transpose', [c], { perm: [2, 3, 0, 1] }, 'y');
    gb.output('y', 'y', [k, k, cin, cout]);
    return gb.encode();
  };
  const feeds = [
    { data: random(batch * cin * size * size), dims: [batch, cin, size, size] },
    { data: random(batch * cout * out * out), dims: [batch, cout, out, out] },
  ];
  const key = `dw|${cin}|${cout}|${k}|${stride}|${size}`;
  const { relError, ms } = compare(key, ['taps', 'nchwc'], [taps, blocked], feeds, flops);
  dwRows.push({
    shape: `dW ${cin}->${cout} ${k}x${k} s${stride} @${size}`,
    gflop: flops / 1e9,
    max_rel_error: relError,
    ...timings(['taps', 'nchwc'], ms, flops),
  });
}

// dx of the strided 1x1 shortcuts: ConvTranspose against a 1x1 Conv (in and out swapped) whose
// result is spread onto every second pixel (Reshape, Pad with zeros, Reshape): what the unit does now.
const spreadRows = [];
for (const [cin, cout, k, stride, size] of shapes) {
  if (k !== 1 || stride === 1) continue;
  const out = Math.floor((size - 1) / stride) + 1;
  const flops = 2 * batch * out * out * cout * cin;
  const dcDims = ['N', cout, out, out];
  const fDims = [1, 1, cin, cout];
  const transposeConv = () => {
    const gb = new GraphBuilder();
    const w = gb.node('Transpose', [gb.input('in1', fDims)], { perm: [3, 2, 0, 1] });
    const outputPadding = size - ((out - 1) * stride + 1);
    gb.node('ConvTranspose', [gb.input('in0', dcDims), w], { kernel_shape: [1, 1], strides: [stride, stride], pads: [0, 0, 0, 0], output_padding: [outputPadding, outputPadding] }, 'y');
    gb.output('y', 'y', ['N', cin, size, size]);
    return gb.encode();
  };
  const spread = () => {
    const gb = new GraphBuilder();
    const w = gb.node('Transpose', [gb.input('in1', fDims)], { perm: [2, 3, 0, 1] });
    const c = gb.node('Conv', [gb.input('in0', dcDims), w], { kernel_shape: [1, 1] });
    const six = gb.node('Reshape', [c, gb.constantInt64([0, cin, out, 1, out, 1])]);
    const padded = gb.node('Pad', [six, gb.constantInt64([0, 0, 0, 0, 0, 0, 0, 0, 0, stride - 1, 0, stride - 1])]);
    const full = gb.node('Reshape', [padded, gb.constantInt64([0, cin, out * stride, out * stride])], {}, out * stride === size ? 'y' : undefined);
    if (out * stride !== size) gb.node('Slice', [full, gb.constantInt64([0, 0]), gb.constantInt64([size, size]), gb.constantInt64([2, 3])], {}, 'y');
    gb.output('y', 'y', ['N', cin, size, size]);
    return gb.encode();
  };
  const feeds = [
    { data: random(batch * cout * out * out), dims: [batch, cout, out, out] },
    { data: random(cin * cout), dims: fDims },
  ];
  const key = `dx|${cin}|${cout}|${stride}|${size}`;
  const { relError, ms } = compare(key, ['convtranspose', 'spread'], [transposeConv, spread], feeds, flops);
  spreadRows.push({
    shape: `dx ${cin}->${cout} 1x1 s${stride} @${size}`,
    max_rel_error: relError,
    convtranspose_cpu_ms: ms[0],
    conv_spread_cpu_ms: ms[1],
    speedup: ms[0] / ms[1],
  });
}
runtime.dispose();
const loadAverage = os.loadavg();
console.log(`batch ${batch}, ${reps} alternating timed calls each, 2 intra-op threads; load average ${loadAverage.map((l) => l.toFixed(2)).join(' ')}\n`);
printTable(rows);
console.log('');
printTable(dwRows);
console.log('');
printTable(spreadRows);
writeResults('nchwc-probe', { config: { batch, reps, intra_op_threads: 2, block }, seed, backend: 'onnxruntime-node', load_average: loadAverage, rows, dw_rows: dwRows, strided_1x1_dx_rows: spreadRows });
