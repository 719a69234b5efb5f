import { describe, expect, it } from 'vitest';
import { ConfigError, Registry, Rng, type LabeledDataset, type StreamBuilder } from '@supermask/core';
import { FASHION_MNIST, IdxDatasetLoader, padTransform, PermutedStream, register, RotatedStream, SplitStream } from '../src/index.js';

const MEAN = [0.5, 0.25];
const STD = [0.25, 0.5];

/** 10 classes x `perClass` images of 4x3x2; value of example n at (i, j, c) = (n * 12 + i * 3 + j + c * 0.5) / 1000. */
function dataset(perClass = 2, shape = [4, 3, 2]): LabeledDataset {
  const [h, w, ch] = shape;
  const make = (n: number) => {
    const x = new Float32Array(n * h * w * ch);
    for (let e = 0; e < n; e++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let c = 0; c < ch; c++) x[((e * h + i) * w + j) * ch + c] = value(e, i, j, c);
    return { x, y: Int32Array.from({ length: n }, (_, e) => e % 10), n };
  };
  return {
    name: 'tiny',
    inputShape: [...shape],
    numClasses: 10,
    classNames: Array.from({ length: 10 }, (_, c) => `c${c}`),
    train: make(10 * perClass),
    test: make(10),
    normalization: { mean: MEAN.slice(0, shape[2]), std: STD.slice(0, shape[2]) },
    source: 'test',
  };
}

function value(e: number, i: number, j: number, c: number): number {
  return (e * 12 + i * 3 + j + c * 0.5) / 1000;
}

const norm = (v: number, c: number) => (v - MEAN[c]) / STD[c];

const registry = new Registry();
register(registry);

function streamFrom(id: string, options: Record<string, unknown>): StreamBuilder {
  return registry.get('stream', id).create(registry.resolveOptions('stream', { id, options }, 'stream'), undefined as never) as StreamBuilder;
}

describe('pad_to', () => {
  it('zero-pads every image, centred, before normalisation, and changes the input shape', () => {
    const data = dataset();
    const stream = streamFrom('split', { tasks: 2, classes_per_task: 2, pad_to: [8, 6] }).build(data, new Rng(0));
    expect(stream.inputShape).toEqual([8, 6, 2]);
    for (const task of stream.tasks) expect(task.inputShape).toEqual([8, 6, 2]);
    const task = stream.tasks[1]; // classes 2, 3: examples 2, 3, 12, 13 of the training split
    expect(task.train.n).toBe(4);
    expect(task.train.x.length).toBe(4 * 8 * 6 * 2);
    const size = 8 * 6 * 2;
    // top = (8 - 4) / 2 = 2, left = (6 - 3) / 2 -> 1.
    for (const [k, e] of [
      [0, 2],
      [3, 13],
    ]) {
      for (let i = 0; i < 8; i++) {
        for (let j = 0; j < 6; j++) {
          for (let c = 0; c < 2; c++) {
            const inside = i >= 2 && i < 6 && j >= 1 && j < 4;
            const expected = inside ? norm(value(e, i - 2, j - 1, c), c) : norm(0, c);
            expect(task.train.x[k * size + (i * 6 + j) * 2 + c]).toBeCloseTo(expected, 5);
          }
        }
      }
    }
  });

  it('leaves images unchanged when pad_to is their size, and rejects a smaller size', () => {
    const data = dataset();
    const same = new SplitStream({ tasks: 1, classes_per_task: 10, pad_to: [4, 3] }).build(data, new Rng(0));
    const plain = new SplitStream({ tasks: 1, classes_per_task: 10 }).build(data, new Rng(0));
    expect(same.inputShape).toEqual([4, 3, 2]);
    expect(Array.from(same.tasks[0].train.x)).toEqual(Array.from(plain.tasks[0].train.x));
    let caught: unknown;
    try {
      new SplitStream({ tasks: 1, classes_per_task: 2, pad_to: [8, 2] }).build(data, new Rng(0));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toContain('stream.options.pad_to: [8, 2] is smaller than the images (4x3)');
    expect(() => streamFrom('permuted', { pad_to: [32] })).toThrow(/stream\.options\.pad_to/);
    expect(() => streamFrom('rotated', { pad_to: [32, 32, 3] })).toThrow(/stream\.options\.pad_to/);
    expect(() => streamFrom('class-groups', { task_classes: [[0, 1]], pad_to: [0, 32] })).toThrow(/stream\.options\.pad_to/);
  });

  it('pads after the task transform of permuted and rotated streams', () => {
    const data = dataset(1, [4, 4, 1]);
    const padded = new PermutedStream({ tasks: 2, first_task_identity: false, pad_to: [6, 6] }).build(data, new Rng(4));
    const plain = new PermutedStream({ tasks: 2, first_task_identity: false }).build(data, new Rng(4));
    const rotatedPadded = new RotatedStream({ tasks: 2, angles: [0, 90], pad_to: [6, 6] }).build(data, new Rng(0));
    const rotated = new RotatedStream({ tasks: 2, angles: [0, 90] }).build(data, new Rng(0));
    for (const [a, b] of [
      [padded, plain],
      [rotatedPadded, rotated],
    ]) {
      expect(a.inputShape).toEqual([6, 6, 1]);
      const t = a.tasks[1].train;
      const u = b.tasks[1].train;
      for (let e = 0; e < t.n; e++) {
        for (let i = 0; i < 6; i++) {
          for (let j = 0; j < 6; j++) {
            const inside = i >= 1 && i < 5 && j >= 1 && j < 5;
            const expected = inside ? u.x[e * 16 + (i - 1) * 4 + (j - 1)] : norm(0, 0);
            expect(t.x[e * 36 + i * 6 + j]).toBeCloseTo(expected, 5);
          }
        }
      }
    }
  });

  it('pads the embedded Fashion-MNIST 28x28 to 32x32', async () => {
    const fmnist = await new IdxDatasetLoader(FASHION_MNIST, { source: 'embedded' }).load();
    const stream = streamFrom('split', { tasks: 5, classes_per_task: 2, train_per_task: 20, test_per_task: 10, pad_to: [32, 32] }).build(fmnist, new Rng(0));
    expect(stream.inputShape).toEqual([32, 32, 1]);
    const task = stream.tasks[0];
    expect(task.train.x.length).toBe(20 * 1024);
    const black = (0 - 0.286) / 0.353;
    for (let e = 0; e < task.train.n; e++) {
      for (const p of [0, 1, 31, 32 + 1, 32 * 31 + 30, 32 * 2 + 1, 32 * 30 + 30]) expect(task.train.x[e * 1024 + p]).toBeCloseTo(black, 5);
    }
  });

  it('padTransform centres the image', () => {
    const src = Float32Array.from([1, 2, 3, 4]);
    const dst = new Float32Array(9);
    padTransform(2, 2, 1, 3, 3)(src, dst);
    expect(Array.from(dst)).toEqual([1, 2, 0, 3, 4, 0, 0, 0, 0]);
    const wide = new Float32Array(16);
    padTransform(2, 2, 1, 4, 4)(src, wide);
    expect(Array.from(wide)).toEqual([0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0]);
    expect(() => padTransform(4, 4, 1, 3, 4)).toThrow(RangeError);
  });
});

describe('split on many classes', () => {
  it('gives 100 tasks x 2 classes on a 200-class dataset (Split TinyImageNet)', () => {
    const n = 400;
    const data: LabeledDataset = {
      name: 'two-hundred',
      inputShape: [2, 2, 3],
      numClasses: 200,
      classNames: Array.from({ length: 200 }, (_, c) => `w${c}`),
      train: { x: new Float32Array(n * 12).fill(0.5), y: Int32Array.from({ length: n }, (_, i) => i % 200), n },
      test: { x: new Float32Array(200 * 12).fill(0.5), y: Int32Array.from({ length: 200 }, (_, i) => i), n: 200 },
      normalization: { mean: [0.5, 0.5, 0.5], std: [1, 1, 1] },
      source: 'test',
    };
    const stream = new SplitStream({ tasks: 100, classes_per_task: 2, class_order: { seed: 1 }, pad_to: [4, 4] }).build(data, new Rng(0));
    expect(stream.tasks).toHaveLength(100);
    expect(stream.numClasses).toBe(2);
    expect(stream.inputShape).toEqual([4, 4, 3]);
    expect(new Set(stream.tasks.flatMap((t) => t.classes)).size).toBe(200);
    for (const task of stream.tasks) {
      expect(task.train.n).toBe(4);
      expect(task.test.n).toBe(2);
      expect(Array.from(task.test.y).sort()).toEqual([0, 1]);
    }
  });
});
