import type { Rng } from './rng.js';

/**
 * Signed-constant weight init (SupSup): each weight is ±sqrt(2 / fanIn) with a random sign.
 * The constant is the standard deviation of Kaiming-normal init for ReLU.
 */
export function signedConstant(size: number, fanIn: number, rng: Rng): Float32Array {
  const c = Math.sqrt(2 / fanIn);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.next() < 0.5 ? -c : c;
  return out;
}

/**
 * Kaiming-uniform init with negative slope a (PyTorch's default for linear and conv layers uses
 * a = sqrt(5)): U(-b, b) with b = gain * sqrt(3 / fanIn), gain = sqrt(2 / (1 + a^2)).
 */
export function kaimingUniform(size: number, fanIn: number, rng: Rng, a = Math.sqrt(5)): Float32Array {
  const gain = Math.sqrt(2 / (1 + a * a));
  const bound = gain * Math.sqrt(3 / fanIn);
  return rng.fillUniform(new Float32Array(size), -bound, bound);
}

/** Kaiming-normal init for ReLU: N(0, 2 / fanIn). */
export function kaimingNormal(size: number, fanIn: number, rng: Rng): Float32Array {
  const std = Math.sqrt(2 / fanIn);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = std * rng.normal();
  return out;
}
