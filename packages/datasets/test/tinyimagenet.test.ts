import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { ConfigError, Registry, Rng, type DatasetLoader } from '@supermask/core';
import {
  dataSearchPlaces,
  decodeJpegRgb,
  naturalCompare,
  register,
  SplitStream,
  TINY_IMAGENET,
  TinyImageNetLoader,
} from '../src/index.js';
import { colourJpeg, FIXTURE_WNIDS, grayBlockValue, grayscaleJpeg, tinyPixel, writeTinyImageNet } from './vision-fixtures.js';
import { tempDirs } from './temp-dirs.js';
import { containerWith, loadError } from './loader-helpers.js';

const { root, freshDir } = tempDirs('supermask-tiny-');

const SIZE = 64 * 64 * 3;
const nowhere = () => join(root, 'no-default');

/** The RGB bytes jpeg-js decodes `file` to (the reference for the loaded floats). */
function reference(file: string): Uint8Array {
  return decode(readFileSync(file), { useTArray: true, formatAsRGBA: false }).data;
}

function expectImage(x: Float32Array, n: number, bytes: Uint8Array): void {
  const image = x.subarray(n * SIZE, (n + 1) * SIZE);
  let worst = 0;
  for (let k = 0; k < SIZE; k++) worst = Math.max(worst, Math.abs(image[k] - bytes[k] / 255));
  expect(worst).toBeLessThan(1e-6);
}

describe('TinyImageNet folder layout', () => {
  it('loads train/<wnid>/images in file-name order and val by val_annotations.txt, with names from words.txt', async () => {
    const dir = freshDir('tiny');
    const tree = join(dir, 'tiny-imagenet-200');
    writeTinyImageNet(tree);
    const dataset = await new TinyImageNetLoader({}, { dataDir: dir, env: {}, defaultDir: nowhere() }).load();
    expect(dataset.name).toBe('tinyimagenet');
    expect(dataset.source).toBe(tree);
    expect(dataset.inputShape).toEqual([64, 64, 3]);
    expect(dataset.numClasses).toBe(3);
    expect(dataset.classNames).toEqual(['goldfish', 'European fire salamander', 'bullfrog']);
    expect(dataset.normalization).toEqual({ mean: [0.4802, 0.4481, 0.3975], std: [0.2302, 0.2265, 0.2262] });
    expect(dataset.train.n).toBe(12);
    expect(Array.from(dataset.train.y)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    expect(dataset.test.n).toBe(6);
    expect(Array.from(dataset.test.y)).toEqual([2, 0, 1, 0, 2, 1]);
    // Natural order: <wnid>_0, _1, _2, _10 (colour image ids 10 * class + 0..3).
    const wnid = FIXTURE_WNIDS[2];
    expectImage(dataset.train.x, 11, reference(join(tree, 'train', wnid, 'images', `${wnid}_10.JPEG`)));
    expectImage(dataset.train.x, 10, reference(join(tree, 'train', wnid, 'images', `${wnid}_2.JPEG`)));
    expectImage(dataset.test.x, 4, reference(join(tree, 'val', 'images', 'val_4.JPEG')));
    // Close to the encoded pixels (quality 100): train image 11 is colour id 23, val_4 is id 104.
    for (const [row, col, c] of [
      [0, 0, 0],
      [10, 50, 1],
      [63, 63, 2],
    ]) {
      expect(Math.abs(dataset.train.x[11 * SIZE + (row * 64 + col) * 3 + c] - tinyPixel(23, row, col, c) / 255)).toBeLessThan(4 / 255);
      expect(Math.abs(dataset.test.x[4 * SIZE + (row * 64 + col) * 3 + c] - tinyPixel(104, row, col, c) / 255)).toBeLessThan(4 / 255);
    }
  });

  it('expands grayscale JPEGs to three equal channels', async () => {
    const dir = freshDir('tiny-gray');
    writeTinyImageNet(dir);
    const dataset = await new TinyImageNetLoader({}, { dataDir: dir, env: {} }).load();
    // train/n01629819/images/n01629819_1.JPEG (class 1, second image) is the grayscale one.
    const base = 5 * SIZE;
    for (const [row, col] of [
      [0, 0],
      [0, 8],
      [13, 42],
      [63, 63],
    ]) {
      const value = grayBlockValue(Math.floor(row / 8), Math.floor(col / 8)) / 255;
      for (let c = 0; c < 3; c++) expect(dataset.train.x[base + (row * 64 + col) * 3 + c]).toBeCloseTo(value, 6);
    }
    const direct = decodeJpegRgb(grayscaleJpeg(16, 8, () => 200), 'gray.jpg');
    expect([direct.width, direct.height, direct.data.length]).toEqual([16, 8, 16 * 8 * 3]);
    expect(new Set(direct.data)).toEqual(new Set([200]));
  });

  it('takes the first `classes` wnids and at most `train_per_class` images of each', async () => {
    const dir = freshDir('tiny-subset');
    writeTinyImageNet(dir, { words: false });
    const dataset = await new TinyImageNetLoader({ classes: 2, train_per_class: 2 }, { dataDir: dir, env: {} }).load();
    expect(dataset.numClasses).toBe(2);
    expect(dataset.classNames).toEqual(FIXTURE_WNIDS.slice(0, 2));
    expect(Array.from(dataset.train.y)).toEqual([0, 0, 1, 1]);
    expect(Array.from(dataset.test.y)).toEqual([0, 1, 0, 1]);
    const first = FIXTURE_WNIDS[0];
    expectImage(dataset.train.x, 1, reference(join(dir, 'train', first, 'images', `${first}_1.JPEG`)));
    expectImage(dataset.test.x, 0, reference(join(dir, 'val', 'images', 'val_1.JPEG')));

    const error = await new TinyImageNetLoader({ classes: 5 }, { dataDir: dir, env: {} }).load().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('dataset.options.classes: 5 classes asked');
  });

  it('gives Split TinyImageNet tasks of 2 classes', async () => {
    const dir = freshDir('tiny-split');
    writeTinyImageNet(dir);
    const dataset = await new TinyImageNetLoader({}, { dataDir: dir, env: {} }).load();
    const stream = new SplitStream({ tasks: 1, classes_per_task: 2, class_order: [2, 0] }).build(dataset, new Rng(0));
    expect(stream.inputShape).toEqual([64, 64, 3]);
    expect(stream.tasks[0].name).toBe('task 1: bullfrog, goldfish');
    expect(stream.tasks[0].train.n).toBe(8);
    expect(stream.tasks[0].test.n).toBe(4);
    expect(Array.from(stream.tasks[0].test.y)).toEqual([0, 1, 1, 0]);
  });

  it('names a bad JPEG, an image of the wrong size and an unknown wnid in val_annotations.txt', async () => {
    const wnid = FIXTURE_WNIDS[1];
    const badPath = join('train', wnid, 'images', `${wnid}_2.JPEG`);
    const bad = freshDir('tiny-bad-jpeg');
    writeTinyImageNet(bad, { override: { [badPath]: 'this is not a JPEG' } });
    const e1 = await loadError(new TinyImageNetLoader({}, { dataDir: bad, env: {} }));
    expect(e1.message).toContain(join(bad, badPath));
    expect(e1.message).toContain('not a decodable JPEG image');
    expect(e1.file).toBe(join(bad, badPath));

    const cut = freshDir('tiny-truncated');
    writeTinyImageNet(cut, { override: { 'val/images/val_3.JPEG': colourJpeg(7).subarray(0, 200) } });
    expect((await loadError(new TinyImageNetLoader({}, { dataDir: cut, env: {} }))).message).toContain(join(cut, 'val', 'images', 'val_3.JPEG'));

    const small = freshDir('tiny-size');
    writeTinyImageNet(small, { override: { 'val/images/val_5.JPEG': colourJpeg(3, 32) } });
    const e2 = await loadError(new TinyImageNetLoader({}, { dataDir: small, env: {} }));
    expect(e2.message).toContain(join(small, 'val', 'images', 'val_5.JPEG'));
    expect(e2.message).toContain('is 32x32; expected 64x64');

    const unknown = freshDir('tiny-unknown');
    writeTinyImageNet(unknown, { extraAnnotations: ['val_6.JPEG\tn09999999\t1\t2\t3\t4'] });
    const e3 = await loadError(new TinyImageNetLoader({}, { dataDir: unknown, env: {} }));
    expect(e3.message).toContain(join(unknown, 'val', 'val_annotations.txt'));
    expect(e3.message).toContain('line 7 names wnid n09999999');
    expect(e3.message).toContain('not in wnids.txt');

    const malformed = freshDir('tiny-malformed');
    writeTinyImageNet(malformed, { extraAnnotations: ['val_6.JPEG'] });
    expect((await loadError(new TinyImageNetLoader({}, { dataDir: malformed, env: {} }))).message).toMatch(/val_annotations\.txt: line 7 is malformed/);

    const noImages = freshDir('tiny-no-class');
    writeTinyImageNet(noImages);
    rmSync(join(noImages, 'train', FIXTURE_WNIDS[2]), { recursive: true });
    const e4 = await loadError(new TinyImageNetLoader({}, { dataDir: noImages, env: {} }));
    expect(e4.message).toContain(join(noImages, 'train', FIXTURE_WNIDS[2], 'images'));

    const dupWnid = freshDir('tiny-dup');
    writeTinyImageNet(dupWnid, { override: { 'wnids.txt': `${FIXTURE_WNIDS.join('\n')}\n${FIXTURE_WNIDS[0]}\n` } });
    expect((await loadError(new TinyImageNetLoader({}, { dataDir: dupWnid, env: {} }))).message).toContain('appears twice (line 4)');
  });

  it('lists the places searched and how to get the data when the folder is nowhere', async () => {
    const dataDir = freshDir('tiny-partial');
    writeFileSync(join(dataDir, 'wnids.txt'), 'n01443537\n');
    const error = await loadError(new TinyImageNetLoader({}, { dataDir, env: { SUPERMASK_DATA: join(root, 'env-missing') }, defaultDir: nowhere() }));
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain(`${dataDir} (--data-dir): missing train/, val/val_annotations.txt, val/images/`);
    expect(error.message).toContain(`${join(root, 'env-missing')} (SUPERMASK_DATA): does not exist`);
    expect(error.message).toContain(join(nowhere(), 'tiny-imagenet-200'));
    expect(error.message).toContain('tiny-imagenet-200.zip');
    expect(error.message).toContain('--data-dir DIR');
    expect(dataSearchPlaces(TINY_IMAGENET, { env: {} }).map((p) => p.dir)).toEqual([
      '/usr/share/datasets/tinyimagenet',
      '/usr/share/datasets/tinyimagenet/tiny-imagenet-200',
    ]);
  });

  it('sorts file names with numbers as numbers', () => {
    expect(['a_10.JPEG', 'a_2.JPEG', 'a_1.JPEG', 'a_0.JPEG', 'b_0.JPEG', 'a_02.JPEG'].sort(naturalCompare)).toEqual([
      'a_0.JPEG',
      'a_1.JPEG',
      'a_02.JPEG',
      'a_2.JPEG',
      'a_10.JPEG',
      'b_0.JPEG',
    ]);
  });
});

describe('tinyimagenet component', () => {
  const registry = new Registry();
  register(registry);

  it('validates classes and train_per_class and loads from the run --data-dir', async () => {
    expect(registry.resolveOptions('dataset', { id: 'tinyimagenet' }, 'dataset')).toEqual({});
    expect(() => registry.resolveOptions('dataset', { id: 'tinyimagenet', options: { classes: 0 } }, 'dataset')).toThrow(/dataset\.options\.classes/);
    expect(() => registry.resolveOptions('dataset', { id: 'tinyimagenet', options: { train_per_class: 1.5 } }, 'dataset')).toThrow(/dataset\.options\.train_per_class/);
    const dir = freshDir('tiny-registry');
    writeTinyImageNet(join(dir, 'tiny-imagenet-200'));
    const options = registry.resolveOptions('dataset', { id: 'tinyimagenet', options: { classes: 3, train_per_class: 1 } }, 'dataset');
    const dataset = await (registry.get('dataset', 'tinyimagenet').create(options, containerWith({ dataDir: dir, env: {} })) as DatasetLoader).load();
    expect(dataset.train.n).toBe(3);
    expect(dataset.test.n).toBe(6);
  });
});
