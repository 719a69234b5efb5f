import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  Experiment,
  fusedConvBnAvailable,
  kaimingUniform,
  keptCount,
  MaskedConv2d,
  resolveConfig,
  Rng,
  selectBackend,
  signedConstant,
  straightThroughMask,
  topKAbsMask,
  type ConvPadding,
  type ForwardContext,
  type LabeledDataset,
} from '@supermask/core';
import { ResNet } from '@supermask/backbone-resnet';
import { ortStats } from '@supermask/kernels-ort';
import { testRegistry } from '../../cli/test/helpers.js';

const BACKENDS = ['cpu-plain', 'cpu'] as const;

/** Central differences of `f` at `values`, one coordinate at a time. */
function finiteDifferences(values: Float32Array, f: (v: Float32Array) => number, h: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const plus = Float32Array.from(values);
    const minus = Float32Array.from(values);
    plus[i] += h;
    minus[i] -= h;
    out[i] = (f(plus) - f(minus)) / (2 * h);
  }
  return out;
}

function expectClose(got: Float32Array, want: Float32Array, rel: number): void {
  const scale = Math.max(1e-3, ...Array.from(want, Math.abs));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst).toBeLessThan(rel * scale);
}

describe('MaskedConv2d gradients (finite differences)', () => {
  const cases: { stride: number; padding: ConvPadding }[] = [
    { stride: 1, padding: 'same' },
    { stride: 1, padding: 'valid' },
    { stride: 2, padding: 'same' },
    { stride: 2, padding: 'valid' },
    { stride: 2, padding: 1 },
  ];
  for (const backend of BACKENDS) {
    for (const { stride, padding } of cases) {
      it(`input, weight and scores on ${backend}, stride ${stride}, padding ${padding}`, async () => {
        await selectBackend(backend);
        const rng = new Rng(stride * 10 + (typeof padding === 'number' ? 7 : padding.length));
        const layer = new MaskedConv2d('conv', 2, 3, 3, stride, padding, signedConstant(3 * 3 * 2 * 3, 18, rng.child('w')));
        layer.density = 0.5;
        layer.addTask(0, kaimingUniform(layer.size, layer.fanIn, rng.child('s')));
        const maskOf = (v: Float32Array) => topKAbsMask(v, keptCount(v.length, 0.5));
        const xValues = rng.fillUniform(new Float32Array(2 * 6 * 6 * 2), -1, 1);
        const xShape = [2, 6, 6, 2];
        const outShape = tf.tidy(() => layer.apply(tf.tensor4d(xValues, xShape as [number, number, number, number]), { task: 0, training: false, weight: (l) => l.weight }).shape);
        const r = tf.tensor(rng.fillUniform(new Float32Array(outShape.reduce((a, b) => a * b, 1)), -1, 1), outShape);
        // Quadratic loss: central differences are exact up to float rounding.
        const loss = (x: tf.Tensor, wEff: tf.Tensor) => tf.tidy(() => {
          const ctx: ForwardContext = { task: 0, training: false, weight: () => wEff };
          return layer.apply(x as tf.Tensor4D, ctx).mul(r).square().sum().mul(0.5) as tf.Scalar;
        });
        const W = layer.weight;
        const S = layer.scores(0);
        const mask = tf.tensor(maskOf(S.dataSync() as Float32Array), layer.shape);
        const x = tf.tensor4d(xValues, xShape as [number, number, number, number]);

        const gx = tf.grad((xx: tf.Tensor) => loss(xx, W.mul(mask)))(x);
        const gw = tf.grad((w: tf.Tensor) => loss(x, w.mul(mask)))(W);
        const gs = tf.grad((s: tf.Tensor) => loss(x, W.mul(straightThroughMask(s, maskOf))))(S);

        const wEffValues = W.mul(mask).dataSync() as Float32Array;
        const fdX = finiteDifferences(xValues, (v) => loss(tf.tensor(v, xShape), tf.tensor(wEffValues, layer.shape)).dataSync()[0]!, 1e-2);
        const maskValues = mask.dataSync() as Float32Array;
        const wValues = W.dataSync() as Float32Array;
        const fdW = finiteDifferences(wValues, (v) => loss(x, tf.tensor(v, layer.shape).mul(mask)).dataSync()[0]!, 1e-2);
        // Scores: the straight-through gradient is sign(S) * dL/dM, with dL/dM by differences on a continuous mask.
        const fdM = finiteDifferences(maskValues, (m) => loss(x, W.mul(tf.tensor(m, layer.shape))).dataSync()[0]!, 1e-2);
        const sValues = S.dataSync() as Float32Array;
        const fdS = fdM.map((g, i) => Math.sign(sValues[i]!) * g);

        expectClose(gx.dataSync() as Float32Array, fdX, 2e-3);
        expectClose(gw.dataSync() as Float32Array, fdW, 2e-3);
        expectClose(gs.dataSync() as Float32Array, fdS, 2e-3);
        // Masked-out weights get no weight gradient but do get a score gradient.
        const gwValues = gw.dataSync();
        for (let i = 0; i < maskValues.length; i++) if (maskValues[i] === 0) expect(Math.abs(gwValues[i]!)).toBe(0);
        tf.dispose([r, mask, x, gx, gw, gs]);
        layer.dispose();
      });
    }
  }
});

describe('ResNet backbones', () => {
  it('ResNet-18 gives logits and pooled features of the right shapes for 1 and 3 channels', async () => {
    await selectBackend('cpu');
    for (const channels of [1, 3]) {
      const net = new ResNet('resnet18', { inputShape: [32, 32, channels], numClasses: 5, numOutputs: 5 }, { nf: 4, weight_init: 'signed_constant', head: 'conv1x1', bn_momentum: 0.1 }, 'basic', [2, 2, 2, 2], new Rng(1));
      net.addTask(0);
      const ctx: ForwardContext = { task: 0, training: false, weight: (l) => l.weight };
      const x = tf.randomNormal([2, 32, 32, channels]);
      const logits = net.forward(x, ctx);
      const features = net.features(x, ctx);
      expect(logits.shape).toEqual([2, 5]);
      expect(features.shape).toEqual([2, 32]);
      // 1 stem + 16 block convs + 3 shortcuts + head.
      expect(net.layers).toHaveLength(21);
      expect(net.layers[0]!.shape).toEqual([3, 3, channels, 4]);
      tf.dispose([x, logits, features]);
      net.dispose();
    }
    const r50 = new ResNet('resnet50', { inputShape: [64, 64, 3], numClasses: 7, numOutputs: 9 }, { nf: 2, weight_init: 'signed_constant', head: 'dense', bn_momentum: 0.1 }, 'bottleneck', [3, 4, 6, 3], new Rng(2));
    r50.addTask(0);
    const ctx: ForwardContext = { task: 0, training: true, weight: (l) => l.weight };
    const x = tf.randomNormal([2, 64, 64, 3]);
    const logits = r50.forward(x, ctx);
    // The head has numOutputs (classes + superfluous) outputs.
    expect(logits.shape).toEqual([2, 9]);
    expect(r50.features(x, ctx).shape).toEqual([2, 64]);
    expect(r50.layers).toHaveLength(1 + 16 * 3 + 4 + 1);
    r50.dispose();
  });

  it('trains SupSup and ExSSNeT on small images with forgetting 0 and per-task batch norm', async () => {
    // Synthetic 8x8 grey images: class c has a bright bar at row c.
    const rng = new Rng(3);
    const make = (n: number) => {
      const x = new Float32Array(n * 64);
      const y = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const c = i % 4;
        y[i] = c;
        for (let p = 0; p < 64; p++) x[i * 64 + p] = 0.3 * rng.next() + (Math.floor(p / 8) === c * 2 ? 0.7 : 0);
      }
      return { x, y, n };
    };
    const dataset: LabeledDataset = {
      name: 'bars', inputShape: [8, 8, 1], numClasses: 4, classNames: ['a', 'b', 'c', 'd'],
      train: make(96), test: make(40), normalization: { mean: [0.3], std: [0.3] }, source: 'generated',
    };
    for (const strategy of ['supsup', 'exssnet']) {
      const registry = testRegistry();
      registry.register({ kind: 'dataset', id: 'bars', description: 'bars', schema: { type: 'object' }, create: () => ({ load: async () => dataset }) });
      const config = resolveConfig(
        {
          seed: 0, backend: 'cpu',
          dataset: { id: 'bars' },
          stream: { id: 'split', options: { tasks: 2, classes_per_task: 2 } },
          backbone: { id: 'resnet18', options: { nf: 4 } },
          // 6 epochs at lr 0.02: the outcome on 40 test images does not hinge on rounding (0.975-1.0
          // over seeds 0-4 on the dense units, the sparse ones and the mix the density threshold
          // picks; 3 epochs at 0.05 ranged 0.55-1.0, 4 at 0.02 0.7-1.0).
          strategy: { id: strategy, options: { mask_phase: { epochs: 6, lr: 0.02, batch_size: 16 }, ...(strategy === 'exssnet' ? { weight_phase: { epochs: 1, lr: 0.01, batch_size: 16 } } : {}) } },
          mask_scorer: { id: 'topk', options: { density: 0.3 } },
          // Every weight phase step checks that no weight an earlier task uses moved (exact).
          debug: { check_protected_weights: true },
        },
        registry,
      );
      const experiment = await Experiment.create({ config, registry });
      try {
        // On cpu (cpu-ort here) the network runs the fused conv + batch-norm kernels.
        expect(fusedConvBnAvailable()).toBe(true);
        const sparseBefore = ortStats()?.sparseRuns ?? 0;
        const results = await experiment.run();
        // The guarantees below hold on the sparse conv + batch-norm units (density 0.3 <= sparseDensity).
        expect(ortStats()!.sparseRuns).toBeGreaterThan(sparseBefore);
        expect(results.forgetting).toBe(0);
        expect(results.accuracy_matrix[1]![0]).toBe(results.accuracy_matrix[0]![0]);
        expect(results.average_accuracy).toBeGreaterThan(0.7);
        // Batch-norm statistics are re-estimated with each task's final mask.
        for (const t of results.tasks) expect(t.batch_norm_recalibration_seconds).toBeGreaterThan(0);
        // Task 1's batch-norm statistics are frozen and differ from task 2's.
        const bn = (experiment.backbone as ResNet).batchNorms[0]!;
        expect(bn.statistics(0).mean).not.toEqual(bn.statistics(1).mean);
      } finally {
        experiment.dispose();
      }
    }
  });
});
