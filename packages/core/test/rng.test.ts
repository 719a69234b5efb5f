import { describe, expect, it } from 'vitest';
import { Rng } from '@supermask/core';

describe('Rng', () => {
  it('gives the same numbers for the same seed and different ones for another', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });

  it('restores its state and derives independent named children', () => {
    const a = new Rng(7);
    a.next();
    const state = a.getState();
    const next = [a.next(), a.next()];
    const b = new Rng(state);
    expect([b.next(), b.next()]).toEqual(next);
    const root = new Rng(7);
    expect(root.child('x').next()).toBe(new Rng(7).child('x').next());
    expect(root.child('x').next()).not.toBe(root.child('y').next());
  });

  it('shuffles into a permutation and is roughly uniform', () => {
    const p = new Rng(1).permutation(1000);
    expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const rng = new Rng(5);
    let sum = 0;
    for (let i = 0; i < 20000; i++) sum += rng.next();
    expect(sum / 20000).toBeCloseTo(0.5, 1);
  });
});
