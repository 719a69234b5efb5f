import { describe, expect, it } from 'vitest';
import { fromFloat16, fromHalfBits, Rng, toFloat16, toHalfBits } from '@supermask/core';

describe('float16 storage', () => {
  it('encodes known values exactly', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(1e6)).toBe(0x7c00);
    expect(toHalfBits(2 ** -24)).toBe(0x0001);
    expect(toHalfBits(0.1)).toBe(0x2e66);
    expect(Number.isNaN(fromHalfBits(toHalfBits(NaN)))).toBe(true);
    expect(fromHalfBits(0x3555)).toBeCloseTo(0.33325, 5);
  });

  it('round-trips within half-precision error', () => {
    const values = new Rng(0).fillUniform(new Float32Array(10000), -0.05, 0.05);
    const back = fromFloat16(toFloat16(values));
    for (let i = 0; i < values.length; i++) {
      expect(Math.abs(back[i]! - values[i]!)).toBeLessThanOrEqual(Math.max(Math.abs(values[i]!) * 2 ** -11, 2 ** -25));
    }
    // Rounding to nearest: encoding the decoded value is the identity.
    const bits = toFloat16(values);
    expect(toFloat16(back)).toEqual(bits);
  });
});
