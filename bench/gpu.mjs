// npm run bench:gpu — training steps on the webgpu backend against cpu-ort, in one process:
// - LeNet 300-100 (configs/split-fmnist-supsup.json: density 0.1, batch 64, Adam) and ResNet-18
//   (configs/split-fmnist-resnet18-supsup.json: nf 20, 32x32, density 0.1, batch 64, Adam), the
//   mask phase (scores train through the straight-through top-k) and the weight phase (weights in
//   the task's mask train), samples/s per phase;
// - the BERT feature step: frozen BERT over a token batch, read back (BENCH_BERT_MODEL, default
//   the embedded local-bert; a bert-base-uncased directory for real figures).
// Before timing, each network's first step runs on both backends from the same weights, scores
// and batch: the masks must be identical, the loss within 1e-3 relative and every gradient
// within BENCH_GRADIENT_TOLERANCE (default 2e-2) in L2 relative error; the BERT features within
// 1e-3 (the run fails otherwise; one layer's equivalence within 1e-3 is the webgpu test file's). Steps are timed between two reads (`await data()`), BENCH_STEPS
// steps per phase after BENCH_WARMUP untimed ones (shader compilation). Inputs are random
// (the speed does not depend on them). lavapipe figures are for correctness, not speed.
// On webgpu the mask phase is also timed with the threshold found the way it was before the radix
// selection (`tf.topk` over the layer, then the same tie rule): rows with selection "tf.topk"; the
// masks of both selections must be identical (BENCH_COMPARE_SELECTION=0 skips these rows).
// Writes bench/results/gpu.json (or BENCH_OUT/gpu.json) with the adapter description.
import os from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { adapterLabel, createOptimizer, keptCount, readConfigFile, registerCoreComponents, Registry, resolveConfig, Rng, selectBackend } from '@supermask/core';
import { LeNet, register as registerMlp } from '@supermask/backbone-mlp';
import { ResNet, register as registerResNet } from '@supermask/backbone-resnet';
import { BertModel, resolveModelDir } from '@supermask/backbone-bert';
import { register as registerDatasets } from '@supermask/datasets';
import { register as registerSupSup, TopKScorer } from '@supermask/strategy-supsup';
import { printTable, root, writeResults } from './common.mjs';

const backends = (process.env.BENCH_BACKENDS ?? 'webgpu,cpu').split(',');
const warmup = Number(process.env.BENCH_WARMUP ?? 2);
const steps = { lenet: Number(process.env.BENCH_STEPS_LENET ?? 20), resnet18: Number(process.env.BENCH_STEPS_RESNET ?? 3), bert: Number(process.env.BENCH_STEPS_BERT ?? 3) };
const bertModel = process.env.BENCH_BERT_MODEL ?? 'local-bert';
const TOLERANCE = 1e-3;
// Gradients of a whole network (ResNet-18: 21 masked layers, batch norm in training mode) drift
// further apart than one layer's: compared as ||a - b|| / ||b|| per tensor, within this bound.
const GRADIENT_TOLERANCE = Number(process.env.BENCH_GRADIENT_TOLERANCE ?? 2e-2);

const ALL_NETS = [
  { net: 'lenet', file: 'split-fmnist-supsup.json', inputShape: [28, 28, 1], build: (spec, options, rng) => new LeNet(spec, options, rng) },
  { net: 'resnet18', file: 'split-fmnist-resnet18-supsup.json', inputShape: [32, 32, 1], build: (spec, options, rng) => new ResNet('resnet18', spec, options, 'basic', [2, 2, 2, 2], rng) },
];

const compareSelection = process.env.BENCH_COMPARE_SELECTION !== '0';

/** The top-k scorer with the earlier device threshold: `tf.topk` sorts the layer's |scores| every step. */
class SortThresholdScorer extends TopKScorer {
  maskTensor(scores, density) {
    const n = scores.size;
    const k = keptCount(n, density);
    if (k >= n) return tf.ones(scores.shape);
    return tf.tidy(() => {
      const a = tf.abs(scores.reshape([n]));
      const threshold = tf.min(tf.topk(a, k, false).values);
      const above = tf.greater(a, threshold);
      const atThreshold = tf.equal(a, threshold);
      const tiesKept = tf.sub(tf.scalar(k, 'int32'), tf.sum(tf.cast(above, 'int32')));
      const keep = tf.logicalOr(above, tf.logicalAnd(atThreshold, tf.lessEqual(tf.cumsum(tf.cast(atThreshold, 'int32')), tiesKept)));
      return tf.where(keep, tf.ones(keep.shape), tf.zeros(keep.shape)).reshape(scores.shape);
    });
  }
}

const NETS = process.env.BENCH_NETS ? ALL_NETS.filter((n) => process.env.BENCH_NETS.split(',').includes(n.net)) : ALL_NETS;
const batchOverride = process.env.BENCH_BATCH ? Number(process.env.BENCH_BATCH) : undefined;

/** A network of `entry` with task 0's scores, built from seeded randoms (the same on every backend). */
function buildNet(entry, registry, Scorer = TopKScorer) {
  const config = resolveConfig(readConfigFile(join(root, 'configs', entry.file)), registry, { file: entry.file });
  const rng = new Rng(config.seed);
  const spec = { inputShape: entry.inputShape, numClasses: 2, numOutputs: 2 };
  const backbone = entry.build(spec, config.backbone.options, rng.child('backbone'));
  const scorer = new Scorer(config.mask_scorer.options);
  const densities = scorer.densities(backbone.layers);
  backbone.addTask(0);
  backbone.layers.forEach((l, i) => {
    l.masks.bind(scorer, densities[i]);
    l.addTask(0, scorer.initScores(l, rng.child(`scores/${l.name}`)));
  });
  const phase = config.strategy.options.mask_phase;
  const batch = batchOverride ?? phase.batch_size;
  const data = new Rng(1);
  const x = Float32Array.from({ length: batch * entry.inputShape.reduce((a, b) => a * b, 1) }, () => data.normal());
  const y = Int32Array.from({ length: batch }, () => data.int(2));
  return { config, backbone, scorer, phase, batch, x, y };
}

/** One training step's loss and gradients of `phase` ('mask': scores; 'weight': weights in the mask). */
function stepGrads(net, phase, x, y) {
  const { backbone, scorer } = net;
  const layers = backbone.layers;
  const masks = phase === 'weight' ? layers.map((l) => l.masks.tensor(0)) : [];
  const ctx =
    phase === 'mask'
      ? { task: 0, training: true, weight: (l) => l.weight.mul(l.masks.withGradient(0)) }
      : { task: 0, training: true, weight: (l) => l.weight.mul(l.masks.tensor(0)) };
  if (phase === 'weight') for (const l of layers) l.weight.trainable = true;
  const variables = phase === 'mask' ? layers.map((l) => l.scores(0)) : layers.map((l) => l.weight);
  const { value, grads } = tf.variableGrads(() => {
    const logits = backbone.forward(x, ctx);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(y, logits.shape[1]), logits);
  }, variables);
  if (phase === 'weight') layers.forEach((l, i) => (grads[l.weight.name] = grads[l.weight.name].mul(masks[i])));
  return { value, grads };
}

async function read(t) {
  return Float32Array.from(await t.data());
}

/** The first step's mask, loss and gradients, read back (for the comparison across backends). */
async function firstStep(net, phase) {
  const x = tf.tensor(net.x, [net.batch, ...net.backbone.spec.inputShape]);
  const y = tf.tensor1d(net.y, 'int32');
  const { value, grads } = tf.tidy(() => stepGrads(net, phase, x, y));
  const mask = tf.tidy(() => tf.concat(net.backbone.layers.map((l) => l.masks.tensor(0).reshape([-1]))));
  const names = Object.keys(grads);
  const out = { loss: await read(value), names, grads: await Promise.all(names.map((k) => read(grads[k]))), mask: await read(mask) };
  tf.dispose([x, y, value, mask, ...Object.values(grads)]);
  return out;
}

/** samples/s of `steps` training steps of `phase` (weights and scores change; `warmup` steps first). */
async function timeSteps(net, phase, count) {
  const layers = net.backbone.layers;
  const optimizer = createOptimizer({ ...net.phase, optimizer: 'adam' });
  const x = tf.tensor(net.x, [net.batch, ...net.backbone.spec.inputShape]);
  const y = tf.tensor1d(net.y, 'int32');
  let loss;
  const run = () => {
    loss?.dispose();
    loss = tf.tidy(() => {
      const { value, grads } = stepGrads(net, phase, x, y);
      optimizer.applyGradients(grads);
      return value;
    });
    if (phase === 'mask') for (const l of layers) l.masks.invalidate(0);
  };
  for (let i = 0; i < warmup; i++) run();
  await loss?.data();
  const started = performance.now();
  for (let i = 0; i < count; i++) run();
  const last = (await loss.data())[0];
  const seconds = (performance.now() - started) / 1000;
  tf.dispose([x, y, loss]);
  optimizer.dispose();
  if (!Number.isFinite(last)) throw new Error(`${phase} phase: loss ${last} after ${count} steps`);
  return { steps: count, seconds, samples_per_second: (count * net.batch) / seconds, last_loss: last };
}

/** The frozen-BERT feature step: a batch of 16 sequences of 64 tokens, features read back. */
async function bertStep(model, count) {
  const n = 16;
  const length = 64;
  const rng = new Rng(2);
  const vocab = model.config.vocab_size;
  const ids = Int32Array.from({ length: n * length }, () => rng.int(vocab));
  const run = () =>
    tf.tidy(() => {
      const inputs = { inputIds: tf.tensor2d(ids, [n, length], 'int32'), attentionMask: tf.ones([n, length], 'int32'), tokenTypeIds: tf.zeros([n, length], 'int32') };
      return model.forward(inputs).lastHiddenState;
    });
  for (let i = 0; i < warmup; i++) {
    const h = run();
    await h.data();
    h.dispose();
  }
  const started = performance.now();
  let first;
  for (let i = 0; i < count; i++) {
    const h = run();
    const values = await h.data();
    first ??= Float32Array.from(values);
    h.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  return { steps: count, seconds, samples_per_second: (count * n) / seconds, features: first, batch_size: n, sequence_length: length };
}

/** ||a - b|| / ||b||: the relative error of `a` against the reference `b` (L2). */
function normError(a, b) {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    scale += b[i] ** 2;
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(scale), 1e-30);
}

/** max |a - b| / max |b|. */
function relativeError(a, b) {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

// The components the two configs name (not @supermask/cli's full registry: the bundle stays small).
const registry = new Registry();
registerCoreComponents(registry);
for (const register of [registerDatasets, registerMlp, registerResNet, registerSupSup]) register(registry);
const rows = [];
const firsts = {};
const selections = {};
for (const requested of backends) {
  const selection = await selectBackend(requested);
  const backend = selection.backend;
  selections[backend] = selection;
  if (selection.adapter) console.error(`adapter: ${adapterLabel(selection.adapter)}`);
  for (const entry of NETS) {
    const variants = [['mask', 'radix'], ...(backend === 'webgpu' && compareSelection ? [['mask', 'tf.topk']] : []), ['weight', 'radix']];
    for (const [phase, selection] of variants) {
      const before = tf.memory().numTensors;
      const net = buildNet(entry, registry, selection === 'tf.topk' ? SortThresholdScorer : TopKScorer);
      const first = await firstStep(net, phase);
      if (selection === 'radix') (firsts[`${entry.net}/${phase}`] ??= {})[backend] = first;
      else if (first.mask.some((v, i) => v !== firsts[`${entry.net}/${phase}`][backend].mask[i])) throw new Error(`${entry.net} on ${backend}: the tf.topk threshold gives another mask than the radix selection`);
      const load = os.loadavg()[0];
      const timed = await timeSteps(net, phase, steps[entry.net]);
      net.backbone.dispose();
      if (tf.memory().numTensors !== before) throw new Error(`${entry.net} ${phase} on ${backend}: ${tf.memory().numTensors - before} tensors leaked`);
      rows.push({ backend, network: entry.net, phase, selection: backend === 'webgpu' ? selection : 'cpu', batch_size: net.batch, ...timed, load_average: load });
      console.error(`${backend} ${entry.net} ${phase} (${selection}): ${timed.samples_per_second.toFixed(1)} samples/s`);
    }
  }
  const model = BertModel.load(resolveModelDir(bertModel));
  const load = os.loadavg()[0];
  const { features, ...timed } = await bertStep(model, steps.bert);
  (firsts['bert/features'] ??= {})[backend] = { loss: new Float32Array(0), grads: [features], mask: new Float32Array(0) };
  rows.push({ backend, network: `bert (${bertModel})`, phase: 'features', ...timed, load_average: load });
  model.dispose();
}

// The same first step on each backend: identical masks, loss and gradients within TOLERANCE.
const checks = [];
const [reference, ...others] = Object.keys(selections).reverse();
for (const [what, byBackend] of Object.entries(firsts)) {
  for (const other of others) {
    const a = byBackend[other];
    const b = byBackend[reference];
    if (!a || !b) continue;
    const maskDiffers = a.mask.reduce((n, v, i) => n + (v !== b.mask[i] ? 1 : 0), 0);
    const lossError = relativeError(a.loss, b.loss);
    const gradientErrors = a.grads.map((g, i) => normError(g, b.grads[i]));
    const worst = gradientErrors.indexOf(Math.max(...gradientErrors));
    checks.push({
      check: what,
      backend: other,
      reference,
      masks_differ: maskDiffers,
      loss_relative_error: lossError,
      gradient_relative_error: gradientErrors[worst] ?? 0,
      worst_tensor: a.names?.[worst] ?? '',
      ok: maskDiffers === 0 && lossError < TOLERANCE && (gradientErrors[worst] ?? 0) < (what === 'bert/features' ? TOLERANCE : GRADIENT_TOLERANCE),
    });
  }
}

const speed = (r) => (r.samples_per_second >= 100 ? Math.round(r.samples_per_second) : Number(r.samples_per_second.toFixed(2)));
const gpu = Object.values(selections).find((s) => s.adapter && s.backend === 'webgpu');
console.log(`bench:gpu; adapter ${gpu ? adapterLabel(gpu.adapter) : 'none'}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} cores\n`);
printTable(rows.map((r) => ({ ...r, seconds: r.seconds.toFixed(2), samples_per_second: speed(r) })), ['backend', 'network', 'phase', 'selection', 'batch_size', 'steps', 'seconds', 'samples_per_second', 'load_average']);
const ratios = [];
for (const r of rows.filter((x) => x.backend === 'webgpu' && x.selection !== 'tf.topk')) {
  const cpu = rows.find((x) => x.backend !== 'webgpu' && x.network === r.network && x.phase === r.phase);
  const sorted = rows.find((x) => x.backend === 'webgpu' && x.selection === 'tf.topk' && x.network === r.network && x.phase === r.phase);
  ratios.push({
    network: r.network,
    phase: r.phase,
    'webgpu / cpu': cpu ? Number((r.samples_per_second / cpu.samples_per_second).toFixed(3)) : '',
    'radix / tf.topk (webgpu)': sorted ? Number((r.samples_per_second / sorted.samples_per_second).toFixed(3)) : '',
  });
}
if (ratios.length) {
  // Sides measured one after the other in this run; the load average is in each row.
  console.log('');
  printTable(ratios);
}
console.log('');
printTable(checks.map((c) => ({ ...c, loss_relative_error: c.loss_relative_error.toExponential(2), gradient_relative_error: c.gradient_relative_error.toExponential(2) })));
writeResults('gpu', {
  config: Object.fromEntries(NETS.map((n) => [n.net, `configs/${n.file}`])),
  seed: 0,
  backend: Object.keys(selections),
  adapter: gpu?.adapter ?? Object.values(selections).find((s) => s.adapter)?.adapter ?? null,
  warmup,
  steps,
  tolerance: { loss: TOLERANCE, gradient_l2: GRADIENT_TOLERANCE, features: TOLERANCE },
  bert_model: bertModel,
  rows,
  ratios,
  checks,
});
if (checks.some((c) => !c.ok)) {
  console.error('webgpu and the cpu reference disagree (see the checks above)');
  process.exitCode = 1;
}
