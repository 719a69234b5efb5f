import { describe, expect, it } from 'vitest';
import { ConfigError, Registry, Rng, type LabeledDataset, type StreamBuilder, type TaskStream } from '@supermask/core';
import {
  FASHION_MNIST,
  IdxDatasetLoader,
  PermutedStream,
  pixelPermutation,
  register,
  resolveAngles,
  RotatedStream,
  rotationTransform,
  SplitStream,
  type SplitStreamOptions,
} from '../src/index.js';

const MEAN = 0.5;
const STD = 0.25;

/**
 * A synthetic dataset of `height` x `width` x `channels` images, `perClass` examples of each of 10
 * classes (labels cycle 0..9). Value 0 of example i is i / n, so examples can be identified.
 */
function syntheticDataset(perClass = { train: 10, test: 4 }, shape = [4, 4, 1]): LabeledDataset {
  const size = shape[0] * shape[1] * shape[2];
  const split = (n: number, salt: number) => {
    const rng = new Rng(salt);
    const x = new Float32Array(n * size);
    for (let i = 0; i < x.length; i++) x[i] = Math.round(rng.next() * 255) / 255;
    for (let i = 0; i < n; i++) x[i * size] = i / n;
    const y = Int32Array.from({ length: n }, (_, i) => i % 10);
    return { x, y, n };
  };
  return {
    name: 'synthetic',
    inputShape: shape,
    numClasses: 10,
    classNames: Array.from({ length: 10 }, (_, c) => `class ${c}`),
    train: split(perClass.train * 10, 1),
    test: split(perClass.test * 10, 2),
    normalization: { mean: new Array(shape[2]).fill(MEAN), std: new Array(shape[2]).fill(STD) },
    source: 'synthetic',
  };
}

/** Original example index of a task example (from its identifying first value). */
function originalIndex(x: Float32Array, i: number, size: number, n: number): number {
  return Math.round((x[i * size] * STD + MEAN) * n);
}

function normalized(value: number): number {
  return (value - MEAN) / STD;
}

function expectConfigError(fn: () => unknown, ...fragments: string[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  for (const fragment of fragments) expect((caught as ConfigError).message).toContain(fragment);
}

const registry = new Registry();
register(registry);

function streamFrom(id: string, options: Record<string, unknown>): StreamBuilder {
  const resolved = registry.resolveOptions('stream', { id, options }, 'stream');
  return registry.get('stream', id).create(resolved, undefined as never) as StreamBuilder;
}

describe('split stream', () => {
  const dataset = syntheticDataset();
  const size = 16;

  it('takes the given class order, remaps labels per task and keeps dataset order', () => {
    const stream = streamFrom('split', { tasks: 3, classes_per_task: 2, class_order: [3, 1, 4, 0, 5, 9] }).build(dataset, new Rng(1));
    expect(stream.name).toBe('split synthetic');
    expect(stream.numClasses).toBe(2);
    expect(stream.inputShape).toEqual([4, 4, 1]);
    expect(stream.tasks.map((t) => t.classes)).toEqual([
      [3, 1],
      [4, 0],
      [5, 9],
    ]);
    expect(stream.tasks[0].name).toBe('task 1: class 3, class 1');
    for (const task of stream.tasks) {
      expect(task.train.n).toBe(20);
      expect(task.test.n).toBe(8);
      let previous = -1;
      for (let i = 0; i < task.train.n; i++) {
        const original = originalIndex(task.train.x, i, size, dataset.train.n);
        expect(original).toBeGreaterThan(previous);
        previous = original;
        expect(task.classes[task.train.y[i]]).toBe(dataset.train.y[original]);
        // Every value normalised with the dataset's mean and std.
        expect(task.train.x[i * size + 5]).toBeCloseTo(normalized(dataset.train.x[original * size + 5]), 5);
      }
    }
    // Class 3 is the first class of task 1, so its head label is 0.
    const labelsOfClass3 = Array.from(stream.tasks[0].train.y).filter((_, i) => originalIndex(stream.tasks[0].train.x, i, size, 100) % 10 === 3);
    expect(new Set(labelsOfClass3)).toEqual(new Set([0]));
  });

  it('defaults to classes 0..C-1 in order with 5 tasks of 2 classes', () => {
    const stream = streamFrom('split', {}).build(dataset, new Rng(1));
    expect(stream.tasks.map((t) => t.classes)).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
      [6, 7],
      [8, 9],
    ]);
  });

  it('draws a seeded class order: same seed, same order', () => {
    const options = { tasks: 2, classes_per_task: 3, class_order: { seed: 7 } };
    const a = streamFrom('split', options).build(dataset, new Rng(1));
    const b = streamFrom('split', options).build(dataset, new Rng(99));
    const order = a.tasks.flatMap((t) => t.classes);
    expect(b.tasks.flatMap((t) => t.classes)).toEqual(order);
    expect(order).toEqual(Array.from(new Rng(7).permutation(10)).slice(0, 6));
    expect(new Set(order).size).toBe(6);
    const other = streamFrom('split', { ...options, class_order: { seed: 8 } }).build(dataset, new Rng(1));
    expect(other.tasks.flatMap((t) => t.classes)).not.toEqual(order);
    for (const task of a.tasks) {
      expect(task.train.n).toBe(30);
      const counts = [0, 0, 0];
      for (const y of task.train.y) counts[y]++;
      expect(counts).toEqual([10, 10, 10]);
    }
  });

  it('rejects orders and counts that do not fit the dataset', () => {
    const build = (options: SplitStreamOptions) => new SplitStream(options).build(dataset, new Rng(1));
    expectConfigError(() => build({ tasks: 6, classes_per_task: 2 }), 'stream.options.tasks', '12 classes');
    expectConfigError(() => build({ tasks: 2, classes_per_task: 2, class_order: [0, 1, 12, 3] }), 'stream.options.class_order[2]', 'class id 12');
    expectConfigError(() => build({ tasks: 2, classes_per_task: 2, class_order: [0, 1, 1, 3] }), 'stream.options.class_order[2]', 'twice');
    expectConfigError(() => build({ tasks: 2, classes_per_task: 2, class_order: [0, 1, 2] }), 'stream.options.class_order', 'need 4');
  });

  it('builds the default 5 tasks from the embedded Fashion-MNIST subset', async () => {
    const fashion = await new IdxDatasetLoader(FASHION_MNIST, { source: 'embedded' }).load();
    const stream = new SplitStream({ tasks: 5, classes_per_task: 2 }).build(fashion, new Rng(0));
    expect(stream.tasks[0].name).toBe('task 1: T-shirt/top, Trouser');
    expect(stream.tasks[4].name).toBe('task 5: Bag, Ankle boot');
    for (const task of stream.tasks) {
      expect(task.train.n).toBe(2000);
      expect(task.test.n).toBe(400);
      expect(task.train.x.length).toBe(2000 * 784);
    }
    // Normalised with Fashion-MNIST's statistics: mean about 0, std about 1 over the tasks.
    let sum = 0;
    let count = 0;
    for (const task of stream.tasks) for (const v of task.train.x) (sum += v), count++;
    expect(Math.abs(sum / count)).toBeLessThan(0.05);
  });
});

describe('permuted stream', () => {
  const dataset = syntheticDataset({ train: 5, test: 2 });
  const size = 16;

  it('applies a seeded pixel permutation per task, to every class', () => {
    const build = (seed: number, first = false) => new PermutedStream({ tasks: 3, first_task_identity: first }).build(dataset, new Rng(seed));
    const a = build(5);
    const b = build(5);
    expect(a.numClasses).toBe(10);
    expect(a.tasks[0].classes).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (let t = 0; t < 3; t++) {
      expect(Array.from(b.tasks[t].train.x)).toEqual(Array.from(a.tasks[t].train.x));
      expect(Array.from(a.tasks[t].train.y)).toEqual(Array.from(dataset.train.y));
    }
    expect(Array.from(a.tasks[1].train.x)).not.toEqual(Array.from(a.tasks[0].train.x));
    expect(Array.from(a.tasks[2].train.x)).not.toEqual(Array.from(a.tasks[1].train.x));
    expect(Array.from(build(6).tasks[0].train.x)).not.toEqual(Array.from(a.tasks[0].train.x));

    // Output pixel i of task t is input pixel perm[i], normalised; the values are a permutation.
    const perm = pixelPermutation(new Rng(5), 1, size);
    const task = a.tasks[1];
    for (let e = 0; e < dataset.train.n; e++) {
      const original = Array.from(dataset.train.x.subarray(e * size, (e + 1) * size), normalized);
      const permuted = Array.from(task.train.x.subarray(e * size, (e + 1) * size));
      for (let i = 0; i < size; i++) expect(permuted[i]).toBeCloseTo(original[perm[i]], 5);
      expect([...permuted].sort((p, q) => p - q).map((v) => v.toFixed(4))).toEqual(
        [...original].sort((p, q) => p - q).map((v) => v.toFixed(4)),
      );
    }
  });

  it('keeps task 1 unpermuted with first_task_identity', () => {
    const stream = streamFrom('permuted', { tasks: 2, first_task_identity: true }).build(dataset, new Rng(5));
    expect(stream.tasks[0].name).toBe('task 1: unpermuted');
    const expected = Array.from(dataset.test.x, normalized);
    Array.from(stream.tasks[0].test.x).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
  });

  it('moves the channels of a pixel together', () => {
    const rgb = syntheticDataset({ train: 1, test: 1 }, [2, 2, 3]);
    const stream = new PermutedStream({ tasks: 1, first_task_identity: false }).build(rgb, new Rng(3));
    const perm = pixelPermutation(new Rng(3), 0, 4);
    const x = stream.tasks[0].train.x;
    for (let p = 0; p < 4; p++) {
      for (let c = 0; c < 3; c++) expect(x[p * 3 + c]).toBeCloseTo(normalized(rgb.train.x[perm[p] * 3 + c]), 5);
    }
  });
});

describe('rotated stream', () => {
  const rotate = (image: number[], h: number, w: number, c: number, degrees: number) => {
    const out = new Float32Array(image.length);
    rotationTransform(h, w, c, degrees)(Float32Array.from(image), out);
    return Array.from(out, (v) => Number(v.toFixed(6)));
  };

  it('0° is the identity', () => {
    const image = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    expect(rotate(image, 3, 4, 1, 0)).toEqual(image);
  });

  it('rotates 90° counter-clockwise about the centre (odd and even sizes, per channel)', () => {
    expect(rotate([1, 2, 3, 4, 5, 6, 7, 8, 9], 3, 3, 1, 90)).toEqual([3, 6, 9, 2, 5, 8, 1, 4, 7]);
    const image4 = Array.from({ length: 16 }, (_, i) => i + 1);
    // out[i][j] = in[j][n-1-i] (numpy.rot90)
    const expected4 = Array.from({ length: 16 }, (_, k) => image4[(k % 4) * 4 + (3 - Math.floor(k / 4))]);
    expect(rotate(image4, 4, 4, 1, 90)).toEqual(expected4);
    expect(rotate([1, 2, 3, 4, 5, 6, 7, 8, 9], 3, 3, 1, 180)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
    // Two channels: each is rotated on its own.
    const twoChannels = [1, 10, 2, 20, 3, 30, 4, 40];
    expect(rotate(twoChannels, 2, 2, 2, 90)).toEqual([2, 20, 4, 40, 1, 10, 3, 30]);
  });

  it('interpolates bilinearly and fills zeros outside the image', () => {
    const ones = new Array(9).fill(1);
    const out = rotate(ones, 3, 3, 1, 45);
    expect(out[4]).toBe(1);
    expect(out[0]).toBeCloseTo(2 - Math.SQRT2, 5);
    expect(out[0]).toBeLessThan(1);
  });

  it('builds one task per angle, normalising after the rotation', () => {
    const dataset = syntheticDataset({ train: 2, test: 1 }, [3, 3, 1]);
    const stream = streamFrom('rotated', { tasks: 2, angles: [0, 90] }).build(dataset, new Rng(1));
    expect(stream.tasks.map((t) => t.name)).toEqual(['task 1: rotated 0°', 'task 2: rotated 90°']);
    expect(stream.numClasses).toBe(10);
    const first = Array.from(dataset.train.x.subarray(0, 9));
    const rotated = [2, 5, 8, 1, 4, 7, 0, 3, 6].map((i) => normalized(first[i]));
    Array.from(stream.tasks[1].train.x.subarray(0, 9)).forEach((v, i) => expect(v).toBeCloseTo(rotated[i], 5));
    Array.from(stream.tasks[0].train.x.subarray(0, 9)).forEach((v, i) => expect(v).toBeCloseTo(normalized(first[i]), 5));
  });

  it('spreads tasks by angle_step (default 180 / tasks)', () => {
    expect(resolveAngles({ tasks: 4, angle_step: 15 })).toEqual([0, 15, 30, 45]);
    expect(resolveAngles({ tasks: 4 })).toEqual([0, 45, 90, 135]);
    expect(new RotatedStream({ tasks: 3, angles: [10, 20, 30] }).angles).toEqual([10, 20, 30]);
  });
});

describe('per-task subsets', () => {
  const dataset = syntheticDataset({ train: 20, test: 10 });
  const size = 16;
  const originals = (stream: TaskStream, t: number, n: number) =>
    Array.from({ length: stream.tasks[t].train.n }, (_, i) => originalIndex(stream.tasks[t].train.x, i, size, n));

  it('takes a seeded, reproducible subset per task, in dataset order', () => {
    const options = { tasks: 2, classes_per_task: 2, train_per_task: 7, test_per_task: 3 };
    const a = new SplitStream(options).build(dataset, new Rng(11));
    const b = new SplitStream(options).build(dataset, new Rng(11));
    const c = new SplitStream(options).build(dataset, new Rng(12));
    for (let t = 0; t < 2; t++) {
      expect(a.tasks[t].train.n).toBe(7);
      expect(a.tasks[t].test.n).toBe(3);
      expect(Array.from(b.tasks[t].train.x)).toEqual(Array.from(a.tasks[t].train.x));
      expect(Array.from(b.tasks[t].test.y)).toEqual(Array.from(a.tasks[t].test.y));
      const indices = originals(a, t, dataset.train.n);
      expect([...indices].sort((p, q) => p - q)).toEqual(indices);
      expect(new Set(indices).size).toBe(7);
      for (const i of indices) expect(a.tasks[t].classes).toContain(dataset.train.y[i]);
    }
    expect(originals(c, 0, dataset.train.n)).not.toEqual(originals(a, 0, dataset.train.n));
    // The test subset does not depend on train_per_task.
    const d = new SplitStream({ ...options, train_per_task: 9 }).build(dataset, new Rng(11));
    expect(Array.from(d.tasks[0].test.x)).toEqual(Array.from(a.tasks[0].test.x));
  });

  it('keeps every example when the subset asks for more than there are', () => {
    const stream = new PermutedStream({ tasks: 1, first_task_identity: true, train_per_task: 10_000 }).build(dataset, new Rng(1));
    expect(stream.tasks[0].train.n).toBe(dataset.train.n);
  });

  it('draws an independent subset for each task', () => {
    const stream = new RotatedStream({ tasks: 2, angles: [0, 0], train_per_task: 15 }).build(dataset, new Rng(4));
    expect(stream.tasks[0].train.n).toBe(15);
    expect(stream.tasks[1].train.n).toBe(15);
    expect(originals(stream, 1, dataset.train.n)).not.toEqual(originals(stream, 0, dataset.train.n));
  });
});

describe('stream option validation through the registry', () => {
  const resolve = (id: string, options: Record<string, unknown>) => () => registry.resolveOptions('stream', { id, options }, 'stream');

  it('fills defaults', () => {
    expect(resolve('split', {})()).toEqual({ tasks: 5, classes_per_task: 2 });
    expect(resolve('permuted', {})()).toEqual({ tasks: 10, first_task_identity: false });
    expect(resolve('rotated', {})()).toEqual({ tasks: 10 });
  });

  it('rejects bad options, naming the field', () => {
    expectConfigError(resolve('split', { tasks: 0 }), 'stream.options.tasks');
    expectConfigError(resolve('split', { classes_per_task: 1.5 }), 'stream.options.classes_per_task');
    expectConfigError(resolve('split', { class_order: [1, 2, 2] }), 'stream.options.class_order');
    expectConfigError(resolve('split', { class_order: { seed: 1, extra: 2 } }), 'stream.options.class_order');
    expectConfigError(resolve('split', { class_order: [-1, 2] }), 'stream.options.class_order');
    expectConfigError(resolve('split', { clases_per_task: 2 }), 'stream.options.clases_per_task', 'unknown field');
    expectConfigError(resolve('permuted', { train_per_task: 0 }), 'stream.options.train_per_task');
    expectConfigError(resolve('permuted', { first_task_identity: 'yes' }), 'stream.options.first_task_identity');
    expectConfigError(resolve('rotated', { angles: 'ninety' }), 'stream.options.angles');
    expectConfigError(resolve('rotated', { test_per_task: 2.5 }), 'stream.options.test_per_task');
  });

  it('rejects rotated options that conflict when the stream is created', () => {
    expectConfigError(() => streamFrom('rotated', { tasks: 2, angles: [0, 90], angle_step: 10 }), 'stream.options.angles', 'not both');
    expectConfigError(() => streamFrom('rotated', { tasks: 3, angles: [0, 90] }), 'stream.options.angles', 'one per task');
  });
});

describe('class-groups stream', () => {
  it('builds tasks from explicit class lists, a class may recur with other labels', async () => {
    const { ClassGroupsStream, IdxDatasetLoader, FASHION_MNIST } = await import('@supermask/datasets');
    const { Rng } = await import('@supermask/core');
    const dataset = await new IdxDatasetLoader(FASHION_MNIST, { source: 'embedded' }).load();
    const stream = new ClassGroupsStream({ task_classes: [[6, 0], [8, 7], [0, 6]], train_per_task: 100, test_per_task: 40 }).build(dataset, new Rng(0));
    expect(stream.tasks.map((t) => t.classes)).toEqual([[6, 0], [8, 7], [0, 6]]);
    expect(stream.numClasses).toBe(2);
    expect(stream.tasks[2]!.name).toBe('task 3: T-shirt/top, Shirt');
    // Task 3 holds the same kind of images as task 1 with the labels swapped.
    const counts = (y: Int32Array) => [y.filter((v) => v === 0).length, y.filter((v) => v === 1).length];
    expect(counts(stream.tasks[0]!.train.y).reduce((a, b) => a + b)).toBe(100);
    expect(() => new ClassGroupsStream({ task_classes: [[3, 12]] }).build(dataset, new Rng(0))).toThrow(/task_classes\[0\]\[1\]: class id 12/);
  });
});
