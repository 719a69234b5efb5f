// node bench/task-inference-diagnose.mjs — why one-shot task inference picks the wrong masks on
// ExSSNeT while it is exact on SupSup. Trains configs/permuted-fmnist-{supsup,exssnet}.json on a
// reduced setting (BENCH_TASKS 10 tasks, BENCH_TRAIN_PER_TASK 5,000 training and
// BENCH_TEST_PER_TASK 512 test images per task, seed 0) and prints, per strategy:
//  1. the norm of each task's effective weight W * M_i per layer (trained exclusive weights change it);
//  2. each mask alone on each task's test batches: mean entropy and logit RMS (the output scale);
//  3. the one-shot entropy gradient dH/dalpha_i at the uniform mix, averaged over each task's
//     batches (rows: data of task j, columns: mask i) and the per-mask bias (mean over other tasks' data);
//  4. the gradient when each mask's contribution is scaled to the same norm per layer.
// With BENCH_RUN_DIR the trained models are checkpointed there and reused by later runs.
// Test batches of BENCH_INFERENCE_BATCH (128) images; BENCH_SUPERFLUOUS overrides the configs' superfluous outputs. Writes bench/results/task-inference-diagnose.json.
import { join } from 'node:path';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { effectiveWeight, inferenceContext, inputSize, readConfigFile, Rng, superpositionContext } from '@supermask/core';
import { createRegistry } from '@supermask/cli';
import { contrastGradient, entropyGradient, meanEntropy, scaleFreeEntropy, superfluousLogSumExp } from '@supermask/strategy-supsup';
import { fullDataDir, printTable, root, runConfig, writeResults } from './common.mjs';

const tasks = Number(process.env.BENCH_TASKS ?? 10);
const trainPerTask = Number(process.env.BENCH_TRAIN_PER_TASK ?? 5000);
const testPerTask = Number(process.env.BENCH_TEST_PER_TASK ?? 512);
const batchSize = Number(process.env.BENCH_INFERENCE_BATCH ?? 128);
const backend = process.env.BENCH_BACKEND ?? 'auto';
const strategies = (process.env.BENCH_STRATEGIES ?? 'supsup,exssnet').split(',');
const dataDir = fullDataDir();
const runRoot = process.env.BENCH_RUN_DIR;
const fmt = (v, d = 3) => Number(v.toFixed(d));

/** Makers of the task's full test batches (a partial last batch is left out). */
function testBatches(task) {
  const size = inputSize(task.inputShape);
  const out = [];
  for (let start = 0; start + batchSize <= task.test.n; start += batchSize) out.push(() => tf.tensor(task.test.x.subarray(start * size, (start + batchSize) * size), [batchSize, ...task.inputShape]));
  return out;
}

const report = {};
for (const strategy of strategies) {
  const file = join(root, 'configs', `permuted-fmnist-${strategy}.json`);
  const raw = readConfigFile(file);
  raw.stream.options = { ...raw.stream.options, tasks, train_per_task: trainPerTask, test_per_task: testPerTask };
  if (!dataDir) raw.dataset.options = { source: 'embedded' };
  if (process.env.BENCH_SUPERFLUOUS !== undefined) raw.outputs = { ...raw.outputs, superfluous: Number(process.env.BENCH_SUPERFLUOUS) };
  raw.task_inference = { id: 'oracle' };
  const inspect = async (experiment, results) => {
    console.error(`${strategy}: ${results.tasks.length} tasks, average accuracy ${(100 * results.average_accuracy).toFixed(2)}%, backend ${results.backend}, load ${os.loadavg()[0].toFixed(2)}`);
    const ctx = inferenceContext(experiment.backbone, experiment.finishedTasks);
    const layers = experiment.backbone.layers;
    const k = ctx.learned;
    const all = Array.from({ length: k }, (_, i) => i);
    // 1. effective weight norms
    const norms = all.map((i) => layers.map((l) => tf.tidy(() => effectiveWeight(l.weight, l.masks.tensor(i)).norm().dataSync()[0])));
    const normRows = all.map((i) => ({ mask: i + 1, ...Object.fromEntries(layers.map((l, li) => [l.name, fmt(norms[i][li])])) }));
    // 2/3/4 per task's data
    const entropy = [];
    const logitRms = [];
    const grad = [];
    const gradNorm = [];
    const numClasses = experiment.stream.numClasses;
    const permutation = Int32Array.from(new Rng(12345).permutation(inputSize(experiment.stream.tasks[0].inputShape)));
    const perBatch = {};
    const exhaustive = { batches: 0, correct: 0 };
    const meanRef = layers.map((_, li) => all.reduce((s, i) => s + norms[i][li], 0) / k);
    // Each mask's term of a layer scaled to the layer's mean effective-weight norm: the layer's coefficients times the scales.
    const normalisedCtx = {
      ...ctx,
      superposition: (candidates, alpha) => ({
        ...superpositionContext(candidates, alpha),
        weight: (layer) => {
          const li = layers.indexOf(layer);
          return superpositionContext(candidates, alpha.mul(tf.tensor1d(candidates.map((i) => meanRef[li] / norms[i][li])))).weight(layer);
        },
      }),
    };
    for (let j = 0; j < k; j++) {
      const batches = testBatches(experiment.stream.tasks[j]);
      const e = new Float64Array(k);
      const r = new Float64Array(k);
      const g = new Float64Array(k);
      const gn = new Float64Array(k);
      for (const make of batches) {
        const x = make();
        // Each mask alone on the batch: its mean entropy (also what the verified@m rows pick by) and logit RMS.
        const alone = new Array(k);
        for (const i of all) {
          tf.tidy(() => {
            const logits = experiment.backbone.forward(x, ctx.fixedContext(i));
            alone[i] = meanEntropy(logits).dataSync()[0];
            e[i] += alone[i] / batches.length;
            r[i] += logits.square().mean().sqrt().dataSync()[0] / batches.length;
          });
        }
        const uniform = new Float32Array(k).fill(1 / k);
        const gH = await entropyGradient(x, uniform, all, ctx);
        gH.forEach((v, i) => (g[i] += v / batches.length));
        const scores = [
          ['entropy gradient (H)', gH],
          ['H minus H on the scrambled batch', await contrastGradient(x, uniform, all, ctx, meanEntropy, permutation)],
          ['scale-free H', await entropyGradient(x, uniform, all, ctx, scaleFreeEntropy)],
          ['scale-free H minus scrambled', await contrastGradient(x, uniform, all, ctx, scaleFreeEntropy, permutation)],
        ];
        if (numClasses < experiment.backbone.layers.at(-1).shape[1]) {
          scores.push(['superfluous logsumexp gradient (G)', await entropyGradient(x, uniform, all, ctx, superfluousLogSumExp(numClasses))], ['G minus G on the scrambled batch', await contrastGradient(x, uniform, all, ctx, superfluousLogSumExp(numClasses), permutation)]);
        }
        for (const [name, score] of scores) {
          const order = all.slice().sort((a, b) => score[a] - score[b]);
          const rank = order.indexOf(j);
          const rec = (perBatch[name] ??= { batches: 0, recall: new Array(6).fill(0), verified: new Array(6).fill(0) });
          rec.batches++;
          for (let m = 1; m <= 5; m++) {
            if (rank < m) rec.recall[m]++;
            const top = order.slice(0, m);
            const pick = top.reduce((b, i) => (alone[i] < alone[b] ? i : b), top[0]);
            if (pick === j) rec.verified[m]++;
          }
        }
        exhaustive.batches++;
        if (alone.indexOf(Math.min(...alone)) === j) exhaustive.correct++;
        (await entropyGradient(x, uniform, all, normalisedCtx)).forEach((v, i) => (gn[i] += v / batches.length));
        x.dispose();
      }
      entropy.push(Array.from(e));
      logitRms.push(Array.from(r));
      grad.push(Array.from(g));
      gradNorm.push(Array.from(gn));
    }
    const matrixRows = (m, d = 3) => m.map((row, j) => ({ data: j + 1, ...Object.fromEntries(row.map((v, i) => [`m${i + 1}`, fmt(v, d)])), argmin: 1 + row.indexOf(Math.min(...row)) }));
    const bias = (m) => all.map((i) => all.filter((j) => j !== i).reduce((s, j) => s + m[j][i], 0) / (k - 1));
    const biasRows = [
      { quantity: 'gradient on other tasks (bias)', ...Object.fromEntries(bias(grad).map((v, i) => [`m${i + 1}`, fmt(v, 4)])) },
      { quantity: 'gradient on own task', ...Object.fromEntries(all.map((i) => [`m${i + 1}`, fmt(grad[i][i], 4)])) },
      { quantity: 'normalised: bias', ...Object.fromEntries(bias(gradNorm).map((v, i) => [`m${i + 1}`, fmt(v, 4)])) },
      { quantity: 'normalised: own task', ...Object.fromEntries(all.map((i) => [`m${i + 1}`, fmt(gradNorm[i][i], 4)])) },
      { quantity: 'logit RMS on own task', ...Object.fromEntries(all.map((i) => [`m${i + 1}`, fmt(logitRms[i][i], 2)])) },
    ];
    console.log(`\n=== ${strategy}: ${k} tasks, ${trainPerTask} training images per task, average accuracy ${(100 * results.average_accuracy).toFixed(2)}%\n`);
    console.log('1. ||W * M_i|| per layer');
    printTable(normRows);
    console.log('\n2a. mean entropy of mask i alone (columns) on task j test data (rows)');
    printTable(matrixRows(entropy));
    console.log('\n2b. logit RMS of mask i alone on task j data');
    printTable(matrixRows(logitRms, 2));
    console.log('\n3. one-shot dH/dalpha_i at uniform alpha (mean over batches of task j); argmin = chosen mask');
    printTable(matrixRows(grad, 4));
    console.log('\n4. same with each mask scaled to the mean norm per layer');
    printTable(matrixRows(gradNorm, 4));
    console.log('\nper-mask summary');
    printTable(biasRows);
    console.log(`\n5. per test batch (${exhaustive.batches} batches of ${batchSize}): recall@m = true task among the m lowest gradients; verified@m = the m lowest, then the lowest entropy of each mask alone. exhaustive: ${(exhaustive.correct / exhaustive.batches).toFixed(4)}`);
    const recallRows = Object.entries(perBatch).map(([score, r]) => ({
      score,
      ...Object.fromEntries([1, 2, 3, 4, 5].map((m) => [`recall@${m}`, fmt(r.recall[m] / r.batches, 4)])),
      ...Object.fromEntries([2, 3, 4].map((m) => [`verified@${m}`, fmt(r.verified[m] / r.batches, 4)])),
    }));
    printTable(recallRows);
    report[strategy] = { per_batch: recallRows, exhaustive: exhaustive.correct / exhaustive.batches, average_accuracy: results.average_accuracy, norms, entropy, logit_rms: logitRms, gradient: grad, gradient_normalised: gradNorm, bias: bias(grad), bias_normalised: bias(gradNorm) };
  };
  // BENCH_RUN_DIR: train once with checkpoints into RUN_DIR/STRATEGY, later runs of the same config resume the finished model.
  await runConfig(raw, { file, backend, dataDir, createRegistry, inspect, runDir: runRoot ? join(runRoot, strategy) : undefined });
}
writeResults(process.env.BENCH_RESULTS_NAME ?? 'task-inference-diagnose', { seed: 0, tasks, train_per_task: trainPerTask, test_per_task: testPerTask, batch_size: batchSize, data: dataDir ?? 'embedded', load_average: os.loadavg(), report });
