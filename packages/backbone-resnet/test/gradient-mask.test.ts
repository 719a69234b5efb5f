import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { APPLIES_GRADIENT_MASK, kaimingUniform, keptCount, Rng, selectBackend, topKAbsMask, weightTrainingContext, type MaskedLayer } from '@supermask/core';
import { ResNet } from '@supermask/backbone-resnet';
import { relativeError } from '../../kernels-ort/test/helpers.js';

type Path = 'op-by-op' | 'dense' | 'sparse';

/**
 * The weight gradients of one step in a weight phase's context (weightTrainingContext) whose
 * gradient masks are the task's mask times an editable set that covers only part of it.
 */
function weightGradients(path: Path): { grads: Float32Array[]; masks: Float32Array[] } {
  process.env.SUPERMASK_FUSED_CONV = path === 'op-by-op' ? '0' : '1';
  process.env.SUPERMASK_SPARSE_CONV = path === 'sparse' ? '1' : '0';
  const net = new ResNet('resnet18', { inputShape: [9, 9, 1], numClasses: 5, numOutputs: 5 }, { nf: 4, weight_init: 'signed_constant', head: 'conv1x1', bn_momentum: 0.1 }, 'basic', [2, 2, 2, 2], new Rng(3));
  try {
    net.addTask(0);
    const rng = new Rng(11);
    for (const l of net.layers) {
      l.density = 0.5;
      l.addTask(0, kaimingUniform(l.size, l.fanIn, rng.child(l.name)));
      // The task's fixed mask (a weight phase's), top-k of the scores.
      l.masks.setMask(0, topKAbsMask(l.masks.scoreValues(0), keptCount(l.size, 0.5)));
      l.weight.trainable = true;
    }
    const editable = (l: MaskedLayer): tf.Tensor => tf.tensor(Float32Array.from(rng.child(`e-${l.name}`).fillUniform(new Float32Array(l.size), 0, 1), (v) => (v < 0.6 ? 1 : 0)), l.shape);
    const gradientMasks = new Map(net.layers.map((l) => [l, tf.tidy(() => l.masks.tensor(0).mul(editable(l)))]));
    const ctx = weightTrainingContext(0, gradientMasks);
    const grads = tf.tidy(() => {
      const x = tf.tensor4d(rng.child('x').fillUniform(new Float32Array(4 * 81), -1, 1), [4, 9, 9, 1]);
      const r = tf.tensor2d(rng.child('r').fillUniform(new Float32Array(20), -1, 1), [4, 5]);
      const { grads: g } = tf.variableGrads(() => net.forward(x, ctx).mul(r).sum() as tf.Scalar, net.layers.map((l) => l.weight as tf.Variable));
      return net.layers.map((l) => Float32Array.from(g[l.weight.name]!.dataSync() as Float32Array));
    });
    const masks = net.layers.map((l) => Float32Array.from(gradientMasks.get(l)!.dataSync() as Float32Array));
    tf.dispose([...gradientMasks.values()]);
    return { grads, masks };
  } finally {
    net.dispose();
  }
}

describe('weight phase: the fused unit returns the filter gradient multiplied by the gradient mask (cpu-ort)', () => {
  afterEach(() => {
    delete process.env.SUPERMASK_FUSED_CONV;
    delete process.env.SUPERMASK_SPARSE_CONV;
  });

  const check = (reference: ReturnType<typeof weightGradients>, other: ReturnType<typeof weightGradients>): void => {
    reference.grads.forEach((g, i) => {
      const mask = reference.masks[i]!;
      expect(g.some((v, j) => v !== 0 && mask[j] === 1)).toBe(true);
      // Nothing outside the mask times the editable set: exactly 0.
      expect(other.grads[i]!.every((v, j) => mask[j] === 1 || v === 0)).toBe(true);
      expect(relativeError(g, other.grads[i]!)).toBeLessThanOrEqual(1e-4);
    });
  };

  it('dense and sparse units give the op-by-op gradients, 0 outside the gradient mask', async () => {
    await selectBackend('cpu');
    const before = tf.memory().numTensors;
    const reference = weightGradients('op-by-op');
    check(reference, weightGradients('dense'));
    check(reference, weightGradients('sparse'));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a gradient kernel without the capability gets no mask, and the context multiplies as always', async () => {
    await selectBackend('cpu');
    const config = tf.getKernel('SupermaskConvBnGrad', tf.getBackend()) as unknown as Record<string, unknown> & tf.KernelConfig;
    expect(config[APPLIES_GRADIENT_MASK]).toBe(true);
    const reference = weightGradients('op-by-op');
    const kernelFunc = config.kernelFunc;
    let sawMask = false;
    delete config[APPLIES_GRADIENT_MASK];
    // An older kernel: ignores any gradientMask input.
    config.kernelFunc = (args) => {
      sawMask ||= args.inputs.gradientMask !== undefined;
      const { gradientMask: _ignored, ...inputs } = args.inputs;
      return kernelFunc({ ...args, inputs });
    };
    try {
      check(reference, weightGradients('sparse'));
      check(reference, weightGradients('dense'));
      expect(sawMask).toBe(false);
    } finally {
      config.kernelFunc = kernelFunc;
      config[APPLIES_GRADIENT_MASK] = true;
    }
  });
});
