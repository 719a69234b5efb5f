import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferenceContext, inputSize, outputWidth, type Experiment, type InferenceContext } from '@supermask/core';
import { contrastGradient, ContrastInference, entropyGradient, meanEntropy, scaleFreeEntropy, scramble, superfluousLogSumExp, superpositionLogits, uniformMixGradient } from '@supermask/strategy-supsup';
import { testRegistry } from '../../cli/test/helpers.js';
import { countingForwardPasses, trainPermuted } from './helpers.js';

const registry = testRegistry();
let experiment: Experiment;

/** ExSSNeT (mask then weight phase, exclusive ownership) on 3 permuted Fashion-MNIST tasks (embedded data). */
async function trainExSSNeT(superfluous: number): Promise<Experiment> {
  const strategy = { id: 'exssnet', options: { mask_phase: { epochs: 1, lr: 0.01, batch_size: 64 }, weight_phase: { epochs: 1, lr: 0.01, batch_size: 64 } } };
  return (await trainPermuted({ name: 'contrast', strategy, outputs: { superfluous } }, registry)).experiment;
}

beforeAll(async () => {
  experiment = await trainExSSNeT(20);
});

afterAll(() => experiment?.dispose());

function batchOf(e: Experiment, task: number, start: number, size: number): tf.Tensor {
  const t = e.stream.tasks[task]!;
  const d = inputSize(t.inputShape);
  return tf.tensor(t.test.x.subarray(start * d, (start + size) * d), [size, ...t.inputShape]);
}

/** The contrast inference as the registry builds it for `e` (options resolved by the schema; the container gives `e`'s backbone spec). */
function fromRegistry(e: Experiment, options: Record<string, unknown> = {}): ContrastInference {
  const resolved = registry.resolveOptions('task_inference', { id: 'contrast', options: { batch_size: 64, ...options } }, 'task_inference');
  const spec = { numClasses: e.stream.numClasses, numOutputs: outputWidth(e.stream.numClasses, e.config) };
  return registry.get('task_inference', 'contrast').create(resolved, { resolve: () => spec } as never) as ContrastInference;
}

const contextOf = (e: Experiment): InferenceContext => inferenceContext(e.backbone, e.finishedTasks);

describe('contrast task inference', () => {
  it('identifies every task of a 3-task ExSSNeT model, batch by batch', async () => {
    const inference = fromRegistry(experiment);
    expect(inference.objective).toBe('entropy');
    expect(inference.wantsSuperfluousOutputs).toBe(false);
    expect(inference.candidates).toBe(2);
    const alone = fromRegistry(experiment, { candidates: 1 });
    const ctx = contextOf(experiment);
    for (let j = 0; j < 3; j++) {
      for (const start of [0, 64, 128]) {
        const x = batchOf(experiment, j, start, 64);
        expect(await alone.infer(x, -1, ctx)).toBe(j);
        expect(await inference.infer(x, -1, ctx)).toBe(j);
        x.dispose();
      }
    }
    const summary = await experiment.evaluateTaskInference({ id: 'contrast', options: { batch_size: 64 } });
    expect(summary.task_id_accuracy).toBe(1);
    expect(summary.average_accuracy).toBe(summary.average_accuracy_true);
  });

  it('costs two forward passes through one superposition plus `candidates` forward passes per batch, whatever the number of tasks', async () => {
    const ctx = contextOf(experiment);
    await countingForwardPasses(experiment.backbone, async (calls, reset) => {
      const x = batchOf(experiment, 2, 0, 32);
      for (const candidates of [1, 2, 3]) {
        reset();
        await fromRegistry(experiment, { candidates }).infer(x, -1, ctx);
        expect(calls()).toBe(2 + (candidates === 1 ? 0 : candidates));
      }
      x.dispose();
    });
  });

  it("computes G's gradient (through the superfluous logits only) as finite differences do", async () => {
    const ctx = contextOf(experiment);
    const x = batchOf(experiment, 1, 0, 32);
    const candidates = [0, 1, 2];
    const alpha = Float32Array.from([0.3, 0.45, 0.25]);
    const grad = await entropyGradient(x, alpha, candidates, ctx, superfluousLogSumExp(10));
    // G with the class logits frozen at alpha: logsumexp([classes(alpha), superfluous(alpha')]).
    const frozen = tf.tidy(() => superpositionLogits(x, tf.tensor1d(alpha), candidates, ctx).slice([0, 0], [-1, 10]));
    const gAt = (a: Float32Array) =>
      tf.tidy(() => {
        const extra = superpositionLogits(x, tf.tensor1d(a), candidates, ctx).slice([0, 10], [-1, -1]);
        return tf.logSumExp(tf.concat([frozen, extra], 1), 1).mean().dataSync()[0]!;
      });
    const h = 1e-3;
    for (let i = 0; i < 3; i++) {
      const plus = Float32Array.from(alpha);
      const minus = Float32Array.from(alpha);
      plus[i] += h;
      minus[i] -= h;
      const fd = (gAt(plus) - gAt(minus)) / (2 * h);
      expect(Math.abs(grad[i]! - fd)).toBeLessThan(2e-2 * Math.max(1, Math.abs(fd)));
    }
    frozen.dispose();
    x.dispose();
  });

  it('is the gradient on the batch minus the gradient on the scrambled batch, and scrambling only reorders features', async () => {
    const ctx = contextOf(experiment);
    const x = batchOf(experiment, 2, 0, 32);
    const permutation = Int32Array.from({ length: 784 }, (_, i) => (i * 7 + 3) % 784);
    const scrambled = scramble(x, permutation);
    expect(scrambled.shape).toEqual(x.shape);
    const [xs, ss] = [x.reshape([32, 784]).arraySync() as number[][], scrambled.reshape([32, 784]).arraySync() as number[][]];
    for (const row of [0, 31]) for (const f of [0, 5, 783]) expect(ss[row]![f]).toBe(xs[row]![permutation[f]!]);
    const uniform = new Float32Array(3).fill(1 / 3);
    const contrast = await contrastGradient(x, uniform, [0, 1, 2], ctx, meanEntropy, permutation);
    const onBatch = await entropyGradient(x, uniform, [0, 1, 2], ctx);
    const onScrambled = await entropyGradient(scrambled, uniform, [0, 1, 2], ctx);
    for (let i = 0; i < 3; i++) expect(contrast[i]).toBeCloseTo(onBatch[i]! - onScrambled[i]!, 4);
    scrambled.dispose();
    x.dispose();
  });

  it('without superfluous outputs: contrast identifies every batch, G is refused, and scramble: false is the plain gradient', async () => {
    const plain = await trainExSSNeT(0);
    try {
      expect(() => fromRegistry(plain, { objective: 'superfluous' })).toThrow(/task_inference\.options\.objective: "superfluous" needs superfluous outputs/);
      const ctx = contextOf(plain);
      const contrast = fromRegistry(plain, { candidates: 1 });
      const plainGradient = fromRegistry(plain, { scramble: false });
      for (let j = 0; j < 3; j++) {
        const x = batchOf(plain, j, 0, 64);
        expect(await contrast.infer(x, -1, ctx)).toBe(j);
        const g = await uniformMixGradient(x, [0, 1, 2], ctx);
        expect(await plainGradient.shortlist(x, ctx, [0, 1, 2])).toEqual([0, 1, 2].sort((a, b) => g[a]! - g[b]! || a - b).slice(0, 2));
        x.dispose();
      }
    } finally {
      plain.dispose();
    }
  });

  it('scale-free entropy does not change when every logit is scaled, the entropy does', () => {
    const z = tf.tensor2d([[2, -1, 0.5, 3], [0, 1, -2, 0.25]]);
    const at = (f: (l: tf.Tensor2D) => tf.Scalar, c: number) => tf.tidy(() => f(z.mul(c) as tf.Tensor2D).dataSync()[0]!);
    expect(at(scaleFreeEntropy, 3)).toBeCloseTo(at(scaleFreeEntropy, 1), 5);
    expect(at(meanEntropy, 3)).toBeLessThan(at(meanEntropy, 1) - 0.1);
    z.dispose();
  });

  it('leaks no tensors while inferring', async () => {
    const ctx = contextOf(experiment);
    const x = batchOf(experiment, 0, 0, 16);
    const inference = fromRegistry(experiment, { candidates: 3 });
    await inference.infer(x, -1, ctx);
    const before = tf.memory().numTensors;
    await inference.infer(x, -1, ctx);
    await fromRegistry(experiment, { objective: 'superfluous', scramble: false }).infer(x, -1, ctx);
    await fromRegistry(experiment, { objective: 'scale-free-entropy' }).infer(x, -1, ctx);
    x.dispose();
    expect(tf.memory().numTensors).toBe(before - 1);
  });
});
