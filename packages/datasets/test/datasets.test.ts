import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, DataError, Registry, type DatasetLoader } from '@supermask/core';
import {
  dataSearchPlaces,
  EMBEDDED_FASHION_MNIST_DIR,
  encodeIdx,
  FASHION_MNIST,
  IdxDatasetLoader,
  locateDataset,
  MNIST,
  readIdx,
  register,
} from '../src/index.js';
import { tempDirs } from './temp-dirs.js';
import { containerWith, loadError } from './loader-helpers.js';

const { root, freshDir } = tempDirs('supermask-datasets-');

interface FakeSetOptions {
  train?: number;
  test?: number;
  gzip?: boolean;
  /** Overrides the labels of the training set. */
  trainLabels?: number[];
  /** Number of training labels written (default: one per image). */
  trainLabelCount?: number;
}

/** Writes a tiny MNIST-like set (4x4 images) into `dir`: the four IDX files. */
function writeFakeSet(dir: string, options: FakeSetOptions = {}): void {
  const gz = options.gzip ?? false;
  const suffix = gz ? '.gz' : '';
  const write = (name: string, dims: number[], data: Uint8Array) => writeFileSync(join(dir, name + suffix), encodeIdx(dims, data, { gzip: gz }));
  for (const [prefix, n] of [
    ['train', options.train ?? 20],
    ['t10k', options.test ?? 10],
  ] as const) {
    const images = Uint8Array.from({ length: n * 16 }, (_, i) => (i * 7) % 256);
    const labelCount = prefix === 'train' ? (options.trainLabelCount ?? n) : n;
    const labels =
      prefix === 'train' && options.trainLabels ? Uint8Array.from(options.trainLabels) : Uint8Array.from({ length: labelCount }, (_, i) => i % 10);
    write(`${prefix}-images-idx3-ubyte`, [n, 4, 4], images);
    write(`${prefix}-labels-idx1-ubyte`, [labels.length], labels);
  }
}

describe('data lookup', () => {
  it('prefers --data-dir, then SUPERMASK_DATA, then the default directory', () => {
    const dataDir = freshDir('data-dir');
    const envDir = freshDir('env');
    const defaultDir = freshDir('default');
    for (const dir of [dataDir, envDir, defaultDir]) writeFakeSet(dir);
    const env = { SUPERMASK_DATA: envDir };
    expect(locateDataset(FASHION_MNIST, { dataDir, env, defaultDir }).dir).toBe(dataDir);
    expect(locateDataset(FASHION_MNIST, { env, defaultDir }).dir).toBe(envDir);
    expect(locateDataset(FASHION_MNIST, { env: {}, defaultDir }).dir).toBe(defaultDir);
    // A place without the files is skipped.
    expect(locateDataset(FASHION_MNIST, { dataDir: freshDir('empty'), env, defaultDir }).dir).toBe(envDir);
  });

  it('accepts the files in DIR/fashion-mnist (resp. DIR/mnist), raw or gzipped', () => {
    const envDir = freshDir('env-sub');
    mkdirSync(join(envDir, 'fashion-mnist'));
    writeFakeSet(join(envDir, 'fashion-mnist'), { gzip: true });
    mkdirSync(join(envDir, 'mnist'));
    writeFakeSet(join(envDir, 'mnist'), { gzip: false });
    const lookup = { env: { SUPERMASK_DATA: envDir }, defaultDir: join(root, 'nowhere') };
    const fashion = locateDataset(FASHION_MNIST, lookup);
    expect(fashion.dir).toBe(join(envDir, 'fashion-mnist'));
    expect(fashion.files.trainImages).toBe(join(envDir, 'fashion-mnist', 'train-images-idx3-ubyte.gz'));
    const mnist = locateDataset(MNIST, lookup);
    expect(mnist.dir).toBe(join(envDir, 'mnist'));
    expect(mnist.files.testLabels).toBe(join(envDir, 'mnist', 't10k-labels-idx1-ubyte'));
  });

  it('lists every place searched and how to get the data when none has the files', () => {
    const dataDir = freshDir('nothing-here');
    const envDir = freshDir('nothing-either');
    writeFileSync(join(envDir, 'train-images-idx3-ubyte.gz'), 'partial');
    const defaultDir = join(root, 'no-default');
    const lookup = { dataDir, env: { SUPERMASK_DATA: envDir }, defaultDir };
    const places = dataSearchPlaces(FASHION_MNIST, lookup).map((p) => p.dir);
    expect(places).toEqual([
      dataDir,
      join(dataDir, 'fashion-mnist'),
      envDir,
      join(envDir, 'fashion-mnist'),
      defaultDir,
      join(defaultDir, 'fashion-mnist'),
    ]);
    let error: unknown;
    try {
      locateDataset(FASHION_MNIST, lookup);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DataError);
    const message = (error as DataError).message;
    for (const place of places) expect(message).toContain(place);
    expect(message).toContain('--data-dir');
    expect(message).toContain('SUPERMASK_DATA');
    expect(message).toContain('missing train-labels-idx1-ubyte[.gz]');
    expect(message).toContain('apt-get install dataset-fashion-mnist');
    expect(message).toContain('github.com/zalandoresearch/fashion-mnist');
  });

  it('searches /usr/share/datasets/<name> by default', () => {
    expect(dataSearchPlaces(FASHION_MNIST, { env: {} }).map((p) => p.dir)).toEqual([
      '/usr/share/datasets/fashion-mnist',
      '/usr/share/datasets/fashion-mnist/fashion-mnist',
    ]);
    expect(dataSearchPlaces(MNIST, { env: {} })[0].dir).toBe('/usr/share/datasets/mnist');
  });
});

describe('dataset components', () => {
  const registry = new Registry();
  register(registry);

  it('registers the datasets and streams with their package', () => {
    expect(registry.ids('dataset')).toEqual(['cifar10', 'cifar100', 'fashion-mnist', 'mnist', 'tinyimagenet']);
    expect(registry.ids('stream')).toEqual(['class-groups', 'permuted', 'rotated', 'split']);
    for (const def of registry.list()) expect(def.package).toBe('@supermask/datasets');
  });

  it('defaults source to embedded for fashion-mnist and full for mnist; mnist has no embedded copy', () => {
    expect(registry.resolveOptions('dataset', { id: 'fashion-mnist' }, 'dataset')).toEqual({ source: 'embedded' });
    expect(registry.resolveOptions('dataset', { id: 'mnist' }, 'dataset')).toEqual({ source: 'full' });
    expect(() => registry.resolveOptions('dataset', { id: 'mnist', options: { source: 'embedded' } }, 'dataset')).toThrow(ConfigError);
    expect(() => registry.resolveOptions('dataset', { id: 'fashion-mnist', options: { src: 'full' } }, 'dataset')).toThrow(/dataset\.options\.src/);
  });

  it('loads full data from the run --data-dir given by the container', async () => {
    const dataDir = freshDir('run-data-dir');
    writeFakeSet(dataDir, { gzip: true, train: 30, test: 12 });
    const def = registry.get('dataset', 'fashion-mnist');
    const options = registry.resolveOptions('dataset', { id: 'fashion-mnist', options: { source: 'full' } }, 'dataset');
    const loader = def.create(options, containerWith({ dataDir, env: {} })) as DatasetLoader;
    const dataset = await loader.load();
    expect(dataset.source).toBe(dataDir);
    expect(dataset.name).toBe('fashion-mnist');
    expect(dataset.inputShape).toEqual([4, 4, 1]);
    expect(dataset.numClasses).toBe(10);
    expect(dataset.classNames[0]).toBe('T-shirt/top');
    expect(dataset.classNames[9]).toBe('Ankle boot');
    expect(dataset.normalization).toEqual({ mean: [0.286], std: [0.353] });
    expect(dataset.train.n).toBe(30);
    expect(dataset.test.n).toBe(12);
    expect(dataset.train.x.length).toBe(30 * 16);
    expect(dataset.train.x[1]).toBeCloseTo(7 / 255, 6);
    expect(Array.from(dataset.train.y.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  });

  it('uses SUPERMASK_DATA from the run environment when there is no --data-dir', async () => {
    const envDir = freshDir('run-env');
    writeFakeSet(envDir);
    const def = registry.get('dataset', 'mnist');
    const loader = def.create({ source: 'full' }, containerWith({ env: { SUPERMASK_DATA: envDir } })) as DatasetLoader;
    const dataset = await loader.load();
    expect(dataset.source).toBe(envDir);
    expect(dataset.name).toBe('mnist');
    expect(dataset.normalization).toEqual({ mean: [0.1307], std: [0.3081] });
  });

  it('rejects labels out of range and label/image count mismatches, naming the files', async () => {
    const badLabel = freshDir('bad-label');
    writeFakeSet(badLabel, { train: 3, trainLabels: [1, 12, 3] });
    const error = await loadError(new IdxDatasetLoader(FASHION_MNIST, { source: 'full' }, { dataDir: badLabel, env: {} }));
    expect(error.message).toContain(join(badLabel, 'train-labels-idx1-ubyte'));
    expect(error.message).toContain('label 12 at index 1');

    const mismatch = freshDir('mismatch');
    writeFakeSet(mismatch, { train: 5, trainLabelCount: 4 });
    const error2 = await loadError(new IdxDatasetLoader(FASHION_MNIST, { source: 'full' }, { dataDir: mismatch, env: {} }));
    expect(error2.message).toContain(join(mismatch, 'train-labels-idx1-ubyte'));
    expect(error2.message).toContain(join(mismatch, 'train-images-idx3-ubyte'));
    expect(error2.message).toContain('4 labels');
  });

  it('fails with a DataError listing the places when the full data is nowhere', async () => {
    const dataDir = freshDir('void');
    const error = await loadError(new IdxDatasetLoader(MNIST, { source: 'full' }, { dataDir, env: {}, defaultDir: join(root, 'void-default') }));
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain(dataDir);
    expect(error.message).toContain(join(root, 'void-default', 'mnist'));
  });
});

describe('embedded Fashion-MNIST subset', () => {
  it('loads by default: 10 classes x 1000 train / 200 test, 28x28 in [0, 1]', async () => {
    const registry = new Registry();
    register(registry);
    const options = registry.resolveOptions('dataset', { id: 'fashion-mnist' }, 'dataset');
    const dataset = await (registry.get('dataset', 'fashion-mnist').create(options, containerWith(undefined)) as DatasetLoader).load();
    expect(dataset.source).toBe('embedded');
    expect(dataset.inputShape).toEqual([28, 28, 1]);
    expect(dataset.numClasses).toBe(10);
    expect(dataset.train.n).toBe(10000);
    expect(dataset.test.n).toBe(2000);
    expect(dataset.train.x.length).toBe(10000 * 784);
    const trainCounts = new Array(10).fill(0);
    for (const y of dataset.train.y) trainCounts[y]++;
    const testCounts = new Array(10).fill(0);
    for (const y of dataset.test.y) testCounts[y]++;
    expect(trainCounts).toEqual(new Array(10).fill(1000));
    expect(testCounts).toEqual(new Array(10).fill(200));
    let min = Infinity;
    let max = -Infinity;
    for (const v of dataset.train.x) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
  });

  // The full dataset beside the repository (../shared from the repository root), when present.
  const fullDir = fileURLToPath(new URL('../../../../shared/datasets/fashion-mnist', import.meta.url));
  it.skipIf(!existsSync(join(fullDir, 'train-labels-idx1-ubyte.gz')))('holds the first 1000 / 200 examples of each class in file order', () => {
    for (const [prefix, perClass] of [
      ['train', 1000],
      ['t10k', 200],
    ] as const) {
      const fullImages = readIdx(join(fullDir, `${prefix}-images-idx3-ubyte.gz`));
      const fullLabels = readIdx(join(fullDir, `${prefix}-labels-idx1-ubyte.gz`));
      const images = readIdx(join(EMBEDDED_FASHION_MNIST_DIR, `${prefix}-images-idx3-ubyte.gz`));
      const labels = readIdx(join(EMBEDDED_FASHION_MNIST_DIR, `${prefix}-labels-idx1-ubyte.gz`));
      const taken = new Array(10).fill(0);
      const keep: number[] = [];
      fullLabels.data.forEach((label, i) => {
        if (taken[label] < perClass) {
          taken[label]++;
          keep.push(i);
        }
      });
      expect(images.dims).toEqual([keep.length, 28, 28]);
      expect(Array.from(labels.data)).toEqual(keep.map((i) => fullLabels.data[i]));
      const expected = new Uint8Array(keep.length * 784);
      keep.forEach((i, j) => expected.set(fullImages.data.subarray(i * 784, (i + 1) * 784), j * 784));
      expect(Buffer.compare(Buffer.from(images.data), Buffer.from(expected))).toBe(0);
    }
  });
});
