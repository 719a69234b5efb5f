import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { readFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ExportedModel } from '@supermask/core';
import { exportModel, fileModelLoader, MODEL_CARD, ONNX_INPUT, ONNX_OUTPUT } from '@supermask/export';
import { LENET, RESNET, trainRun } from './runs.js';

const ort = createRequire(import.meta.url)('onnxruntime-node') as {
  InferenceSession: { create(path: string): Promise<{ run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array; dims: number[] }>>; release(): Promise<void> }> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
};

const argmax = (v: Float32Array, rows: number, cols: number) =>
  Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let c = 1; c < cols; c++) if (v[r * cols + c]! > v[r * cols + best]!) best = c;
    return best;
  });

async function check(name: string, config: Record<string, unknown>, task: number) {
  const { dir, run, registry: reg, accuracy, test: t, shape } = await trainRun(name, config, task);
  const n = t.n;
  const before = tf.memory().numTensors;
  for (const format of ['native', 'tfjs', 'onnx'] as const) await exportModel(run, task, join(dir, format), reg, format);
  const native = ExportedModel.load(join(dir, 'native'), reg);
  const classes = native.manifest.num_classes;
  const x = tf.tensor(t.x, shape);
  const reference = tf.tidy(() => native.predict(x).dataSync() as Float32Array);

  const layers = await tfl.loadLayersModel(fileModelLoader(join(dir, 'tfjs', 'model.json')));
  const fromTfjs = tf.tidy(() => (layers.predict(x) as tf.Tensor).dataSync() as Float32Array);
  layers.dispose();
  x.dispose();
  native.dispose();
  expect(tf.memory().numTensors).toBe(before);

  const session = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'));
  const out = (await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', t.x, shape) }))[ONNX_OUTPUT]!;
  await session.release();
  expect(out.dims).toEqual([n, classes]);

  const reached = argmax(reference, n, classes);
  const hits = reached.filter((c, i) => c === t.y[i]).length;
  expect(hits / n).toBe(accuracy);
  for (const [label, logits] of [['tfjs', fromTfjs], ['onnx', out.data]] as const) {
    expect(logits.length, label).toBe(n * classes);
    let worst = 0;
    for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i]! - reference[i]!));
    expect(worst, `${label}: largest logit difference`).toBeLessThan(1e-4);
    expect(argmax(logits, n, classes), label).toEqual(reached);
  }

  for (const format of ['native', 'tfjs', 'onnx']) {
    const text = readFileSync(join(dir, format, MODEL_CARD), 'utf8');
    const front = YAML.parse(/^---\n([\s\S]*?)\n---\n/.exec(text)![1]!) as Record<string, unknown>;
    expect(front).toMatchObject({ task: task + 1, accuracy, source_run: run, license: 'mit', format, classes: t.classes });
    expect(front.density as number).toBeCloseTo(0.2, 2);
  }
  return { dir, reg };
}

describe('exports others can load', () => {
  it('LeNet (superfluous outputs dropped): TensorFlow.js and ONNX reproduce the native logits and the task accuracy', async () => {
    const { dir, reg } = await check('lenet', LENET, 0);
    // Exports written before the rename (model.json) still load.
    renameSync(join(dir, 'native', 'supermask-model.json'), join(dir, 'native', 'model.json'));
    const legacy = ExportedModel.load(join(dir, 'native'), reg);
    expect(legacy.manifest.backbone.id).toBe('lenet');
    legacy.dispose();
  });

  it('a tiny ResNet-18 with per-task batch norm: same logits and accuracy for the second task', async () => {
    await check('resnet', RESNET, 1);
  });

  it('refuses a backbone it has no graph for, before writing anything', async () => {
    const { modelGraph } = await import('@supermask/export');
    const fake = { manifest: { backbone: { id: 'bert' }, input_shape: [4], num_classes: 2 }, backbone: {} } as unknown as ExportedModel;
    expect(() => modelGraph(fake)).toThrow(/backbone "bert" cannot be exported as a TensorFlow.js or ONNX graph; supported: lenet, resnet18, resnet50/);
  });
});
