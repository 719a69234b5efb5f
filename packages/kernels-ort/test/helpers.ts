import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
// tfjs-core's gradients and chained ops, which @supermask/core registers.
import '@supermask/core';
import { ortStats, registerOrtBackend } from '@supermask/kernels-ort';

export const ORT = registerOrtBackend().backendName;

export { relativeError, uniform } from './uniform.js';
import { relativeError, uniform } from './uniform.js';

export interface Input {
  shape: number[];
  lo?: number;
  hi?: number;
}

/** Runs `fn` on fresh tensors of the same values on `backend`; returns every output's values. */
export async function runOn(backend: string, fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[], inputs: Input[], seed: number): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
  return tf.tidy(() => {
    const xs = inputs.map((inp, i) => tf.tensor(uniform(inp.shape.reduce((a, b) => a * b, 1), seed * 31 + i + 1, inp.lo, inp.hi), inp.shape));
    const out = fn(...xs);
    return (Array.isArray(out) ? out : [out]).map((t) => Float32Array.from(t.dataSync() as Float32Array));
  });
}


/**
 * Computes `fn` on plain cpu and on the ORT backend and expects the same values within `tolerance`
 * (relative to the largest magnitude of each output); returns how many kernels ORT ran.
 */
export async function expectEquivalent(fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[], inputs: Input[], seed = 1, tolerance = 1e-4): Promise<number> {
  const expected = await runOn('cpu', fn, inputs, seed);
  const before = ortStats(ORT)?.runs ?? 0;
  const actual = await runOn(ORT, fn, inputs, seed);
  const ran = (ortStats(ORT)?.runs ?? 0) - before;
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => {
    expect(actual[i]!.length).toBe(e.length);
    expect(actual[i]!.every((v) => Number.isFinite(v))).toBe(true);
    expect(relativeError(e, actual[i]!)).toBeLessThanOrEqual(tolerance);
  });
  return ran;
}

/** fn and its gradients with respect to every input, for a fixed random output gradient dy. */
export function withGradients(fn: (...xs: tf.Tensor[]) => tf.Tensor, seed = 7): (...xs: tf.Tensor[]) => tf.Tensor[] {
  return (...xs) => {
    const y = fn(...xs);
    const dy = tf.tensor(uniform(y.size, seed), y.shape);
    const grads = tf.grads((...args: tf.Tensor[]) => fn(...args))(xs, dy);
    return [y, ...grads];
  };
}
