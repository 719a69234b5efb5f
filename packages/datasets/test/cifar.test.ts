import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, Registry, Rng, type DatasetLoader, type StreamBuilder } from '@supermask/core';
import {
  CIFAR10,
  CIFAR100,
  CifarDatasetLoader,
  dataSearchPlaces,
  parseCifarBatch,
  register,
  SplitStream,
} from '../src/index.js';
import { cifarPixel, cifarRecord, writeCifar10, writeCifar100 } from './vision-fixtures.js';
import { tempDirs } from './temp-dirs.js';
import { containerWith, loadError } from './loader-helpers.js';

const { root, freshDir } = tempDirs('supermask-cifar-');

/** Value of HWC float image `n` of `x` at (row, col, channel). */
function pixelAt(x: Float32Array, n: number, row: number, col: number, channel: number): number {
  return x[n * 3072 + (row * 32 + col) * 3 + channel];
}

const nowhere = () => join(root, 'no-default');

describe('CIFAR-10 binary batches', () => {
  it('reads the five training batches in order and the test batch: HWC [0, 1] pixels, labels, class names', async () => {
    const dir = freshDir('c10');
    writeCifar10(join(dir, 'cifar-10-batches-bin'), { perFile: 3, testCount: 4 });
    const dataset = await new CifarDatasetLoader(CIFAR10, {}, { dataDir: dir, env: {}, defaultDir: nowhere() }).load();
    expect(dataset.name).toBe('cifar10');
    expect(dataset.source).toBe(join(dir, 'cifar-10-batches-bin'));
    expect(dataset.inputShape).toEqual([32, 32, 3]);
    expect(dataset.numClasses).toBe(10);
    expect(dataset.classNames).toEqual(['plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    expect(dataset.normalization).toEqual({ mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] });
    expect(dataset.train.n).toBe(15);
    expect(dataset.test.n).toBe(4);
    expect(dataset.train.x.length).toBe(15 * 3072);
    expect(Array.from(dataset.train.y)).toEqual(Array.from({ length: 15 }, (_, k) => k % 10));
    expect(Array.from(dataset.test.y)).toEqual([0, 3, 6, 9]);
    // Record 7 sits in data_batch_3.bin; pixel (row 5, col 9) of each plane.
    for (const [row, col] of [
      [0, 0],
      [5, 9],
      [31, 31],
    ]) {
      for (let c = 0; c < 3; c++) {
        expect(pixelAt(dataset.train.x, 7, row, col, c)).toBeCloseTo(cifarPixel(7, c, row * 32 + col) / 255, 7);
        expect(pixelAt(dataset.test.x, 2, row, col, c)).toBeCloseTo(cifarPixel(1002, c, row * 32 + col) / 255, 7);
      }
    }
  });

  it('uses the upstream class names when batches.meta.txt is absent, and parses single batches', async () => {
    const dir = freshDir('c10-nometa');
    writeCifar10(dir, { meta: null });
    const dataset = await new CifarDatasetLoader(CIFAR10, {}, { dataDir: dir, env: {} }).load();
    expect(dataset.source).toBe(dir);
    expect(dataset.classNames).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    const single = parseCifarBatch(readFileSync(join(dir, 'data_batch_2.bin')), 'data_batch_2.bin', CIFAR10);
    expect(single.n).toBe(3);
    expect(Array.from(single.y)).toEqual([3, 4, 5]);
    expect(single.x[(3 * 32 + 4) * 3 + 2]).toBeCloseTo(cifarPixel(3, 2, 3 * 32 + 4) / 255, 7);
  });

  it('looks in --data-dir, then SUPERMASK_DATA, then the default, each directly or in cifar-10-batches-bin', async () => {
    const envDir = freshDir('c10-env');
    writeCifar10(join(envDir, 'cifar-10-batches-bin'));
    const defaultDir = freshDir('c10-default');
    writeCifar10(defaultDir);
    const lookup = { dataDir: freshDir('c10-empty'), env: { SUPERMASK_DATA: envDir }, defaultDir };
    expect((await new CifarDatasetLoader(CIFAR10, {}, lookup).load()).source).toBe(join(envDir, 'cifar-10-batches-bin'));
    expect((await new CifarDatasetLoader(CIFAR10, {}, { env: {}, defaultDir }).load()).source).toBe(defaultDir);
    expect(dataSearchPlaces(CIFAR10, { env: {} }).map((p) => p.dir)).toEqual(['/usr/share/datasets/cifar10', '/usr/share/datasets/cifar10/cifar-10-batches-bin']);
    expect(dataSearchPlaces(CIFAR100, { env: {} }).map((p) => p.dir)).toEqual(['/usr/share/datasets/cifar100', '/usr/share/datasets/cifar100/cifar-100-binary']);
  });

  it('lists the places searched, the missing files and how to get the data when nothing is found', async () => {
    const dataDir = freshDir('c10-partial');
    writeCifar10(dataDir);
    rmSync(join(dataDir, 'data_batch_3.bin'));
    const error = await loadError(new CifarDatasetLoader(CIFAR10, {}, { dataDir, env: {}, defaultDir: nowhere() }));
    expect(error.exitCode).toBe(3);
    for (const place of [dataDir, join(dataDir, 'cifar-10-batches-bin'), nowhere(), join(nowhere(), 'cifar-10-batches-bin')]) {
      expect(error.message).toContain(place);
    }
    expect(error.message).toContain('missing data_batch_3.bin');
    expect(error.message).toContain('SUPERMASK_DATA is not set');
    expect(error.message).toContain('https://www.cs.toronto.edu/~kriz/cifar.html');
    expect(error.message).toContain('--data-dir DIR');
  });

  it('rejects a truncated batch, a label out of range and a wrong names file, naming the file', async () => {
    const truncated = freshDir('c10-truncated');
    writeCifar10(truncated);
    const file = join(truncated, 'data_batch_2.bin');
    writeFileSync(file, readFileSync(file).subarray(0, 3 * 3073 - 100));
    const e1 = await loadError(new CifarDatasetLoader(CIFAR10, {}, { dataDir: truncated, env: {} }));
    expect(e1.message).toContain(file);
    expect(e1.message).toContain('not a multiple of the CIFAR-10 record size');
    expect(e1.message).toContain('3073 bytes (1 label byte + 3072 pixel bytes)');
    expect(e1.file).toBe(file);

    const badLabel = freshDir('c10-label');
    writeCifar10(badLabel);
    writeFileSync(join(badLabel, 'test_batch.bin'), Buffer.concat([cifarRecord([2], 0), cifarRecord([10], 1)]));
    const e2 = await loadError(new CifarDatasetLoader(CIFAR10, {}, { dataDir: badLabel, env: {} }));
    expect(e2.message).toContain(join(badLabel, 'test_batch.bin'));
    expect(e2.message).toContain('record 1 (byte offset 3073) has label 10; expected CIFAR-10 labels 0..9');

    const badMeta = freshDir('c10-meta');
    writeCifar10(badMeta, { meta: 'a\nb\nc\n' });
    const e3 = await loadError(new CifarDatasetLoader(CIFAR10, {}, { dataDir: badMeta, env: {} }));
    expect(e3.message).toContain(join(badMeta, 'batches.meta.txt'));
    expect(e3.message).toContain('lists 3 CIFAR-10 class names, expected 10');

    const empty = freshDir('c10-empty-file');
    writeCifar10(empty);
    writeFileSync(join(empty, 'data_batch_5.bin'), '');
    expect((await loadError(new CifarDatasetLoader(CIFAR10, {}, { dataDir: empty, env: {} }))).message).toContain(join(empty, 'data_batch_5.bin'));
  });
});

describe('CIFAR-100 binary files', () => {
  it('reads fine labels by default and coarse labels on request, with the names files', async () => {
    const dir = freshDir('c100');
    writeCifar100(join(dir, 'cifar-100-binary'), { train: 200, test: 5 });
    const lookup = { env: { SUPERMASK_DATA: dir }, defaultDir: nowhere() };
    const fine = await new CifarDatasetLoader(CIFAR100, {}, lookup).load();
    expect(fine.name).toBe('cifar100');
    expect(fine.numClasses).toBe(100);
    expect(fine.classNames[0]).toBe('fine_0');
    expect(fine.classNames[99]).toBe('fine_99');
    expect(fine.normalization).toEqual({ mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] });
    expect(fine.train.n).toBe(200);
    expect(fine.train.y[123]).toBe(23);
    expect(Array.from(fine.test.y)).toEqual([99, 98, 97, 96, 95]);
    expect(pixelAt(fine.train.x, 123, 17, 3, 1)).toBeCloseTo(cifarPixel(123, 1, 17 * 32 + 3) / 255, 7);
    expect(pixelAt(fine.test.x, 4, 31, 0, 2)).toBeCloseTo(cifarPixel(5004, 2, 31 * 32) / 255, 7);

    const coarse = await new CifarDatasetLoader(CIFAR100, { label: 'coarse' }, lookup).load();
    expect(coarse.numClasses).toBe(20);
    expect(coarse.classNames).toEqual(Array.from({ length: 20 }, (_, i) => `coarse_${i}`));
    expect(coarse.train.y[123]).toBe((123 * 7) % 20);
    expect(Array.from(coarse.test.y)).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(coarse.train.x.subarray(0, 9000))).toEqual(Array.from(fine.train.x.subarray(0, 9000)));
  });

  it('falls back to the upstream names, and rejects a file cut inside a record', async () => {
    const dir = freshDir('c100-nonames');
    writeCifar100(dir, { train: 3, test: 2, names: false });
    const fine = await new CifarDatasetLoader(CIFAR100, { label: 'fine' }, { dataDir: dir, env: {} }).load();
    expect(fine.classNames).toHaveLength(100);
    expect(fine.classNames.slice(0, 3)).toEqual(['apple', 'aquarium_fish', 'baby']);
    expect(fine.classNames[99]).toBe('worm');
    expect(new Set(fine.classNames).size).toBe(100);
    const coarse = await new CifarDatasetLoader(CIFAR100, { label: 'coarse' }, { dataDir: dir, env: {} }).load();
    expect(coarse.classNames).toHaveLength(20);
    expect(coarse.classNames[19]).toBe('vehicles_2');

    const file = join(dir, 'train.bin');
    writeFileSync(file, readFileSync(file).subarray(0, 3074 + 3073));
    const error = await loadError(new CifarDatasetLoader(CIFAR100, {}, { dataDir: dir, env: {} }));
    expect(error.message).toContain(file);
    expect(error.message).toContain('3074 bytes (2 label bytes + 3072 pixel bytes)');
  });

  it('checks fine and coarse labels against their ranges', () => {
    const bytes = Buffer.concat([cifarRecord([19, 99], 0), cifarRecord([20, 5], 1)]);
    expect(parseCifarBatch(bytes, 'x.bin', CIFAR100, 'fine').y[1]).toBe(5);
    expect(() => parseCifarBatch(bytes, 'x.bin', CIFAR100, 'coarse')).toThrow(/x\.bin: record 1 .* label 20; expected CIFAR-100 labels 0\.\.19/);
    expect(() => parseCifarBatch(bytes, 'x.bin', CIFAR100, 'middle')).toThrow(ConfigError);
  });

  it('gives Split CIFAR-100 as 20 tasks x 5 classes and 10 tasks x 10 classes', async () => {
    const dir = freshDir('c100-split');
    writeCifar100(dir, { train: 200, test: 100 });
    const dataset = await new CifarDatasetLoader(CIFAR100, {}, { dataDir: dir, env: {} }).load();
    const twenty = new SplitStream({ tasks: 20, classes_per_task: 5 }).build(dataset, new Rng(0));
    expect(twenty.tasks).toHaveLength(20);
    expect(twenty.numClasses).toBe(5);
    expect(twenty.inputShape).toEqual([32, 32, 3]);
    expect(twenty.tasks[19].classes).toEqual([95, 96, 97, 98, 99]);
    expect(twenty.tasks[19].name).toBe('task 20: fine_95, fine_96, fine_97, fine_98, fine_99');
    for (const task of twenty.tasks) {
      expect(task.train.n).toBe(10);
      expect(task.test.n).toBe(5);
      expect(new Set(task.train.y)).toEqual(new Set([0, 1, 2, 3, 4]));
    }
    // Normalised with the CIFAR-100 statistics: example 0 of task 3 is record 10 (fine label 10).
    const r10 = twenty.tasks[2].train;
    expect(r10.x[1]).toBeCloseTo((cifarPixel(10, 1, 0) / 255 - 0.4865) / 0.2564, 5);

    const ten = new SplitStream({ tasks: 10, classes_per_task: 10, class_order: { seed: 3 } }).build(dataset, new Rng(0));
    expect(ten.tasks).toHaveLength(10);
    expect(ten.numClasses).toBe(10);
    expect(new Set(ten.tasks.flatMap((t) => t.classes)).size).toBe(100);
    for (const task of ten.tasks) expect(task.train.n).toBe(20);
  });
});

describe('CIFAR components', () => {
  const registry = new Registry();
  register(registry);

  it('registers cifar10 and cifar100 with their option schemas', async () => {
    expect(registry.ids('dataset')).toEqual(expect.arrayContaining(['cifar10', 'cifar100']));
    expect(registry.resolveOptions('dataset', { id: 'cifar10' }, 'dataset')).toEqual({});
    expect(registry.resolveOptions('dataset', { id: 'cifar100' }, 'dataset')).toEqual({ label: 'fine' });
    expect(() => registry.resolveOptions('dataset', { id: 'cifar100', options: { label: 'medium' } }, 'dataset')).toThrow(/dataset\.options\.label/);
    expect(() => registry.resolveOptions('dataset', { id: 'cifar10', options: { label: 'fine' } }, 'dataset')).toThrow(ConfigError);

    const dir = freshDir('c100-registry');
    writeCifar100(join(dir, 'cifar-100-binary'), { train: 4, test: 2 });
    const options = registry.resolveOptions('dataset', { id: 'cifar100', options: { label: 'coarse' } }, 'dataset');
    const loader = registry.get('dataset', 'cifar100').create(options, containerWith({ dataDir: dir, env: {} })) as DatasetLoader;
    const dataset = await loader.load();
    expect(dataset.numClasses).toBe(20);
    expect(dataset.source).toBe(join(dir, 'cifar-100-binary'));
    const stream = (registry.get('stream', 'split').create(registry.resolveOptions('stream', { id: 'split', options: { tasks: 4, classes_per_task: 5 } }, 'stream'), undefined as never) as StreamBuilder).build(dataset, new Rng(1));
    expect(stream.tasks).toHaveLength(4);
  });
});
