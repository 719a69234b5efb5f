/**
 * The webgpu backend against the cpu backend. Runs where Dawn finds an adapter (CI: Mesa's
 * lavapipe from bookworm-backports, see .ci/run); elsewhere every test is skipped with the reason.
 * Shapes are tiny: lavapipe runs the GPU path on the CPU.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Experiment,
  resolveConfig,
  MaskedConv1d,
  MaskedConv2d,
  MaskedDense,
  Rng,
  TaskBatchNorm,
  adapterLabel,
  packBits,
  selectBackend,
  topKAbsMask,
  topKAbsMaskTensor,
  unpackBits,
  unpackBitsTensor,
  type Observer,
  type ExperimentResults,
  type ForwardContext,
  type MaskedLayer,
  type PhaseInfo,
  type Task,
} from '@supermask/core';
import { TopKScorer } from '@supermask/strategy-supsup';
import { blobs, blobsConfig, testRegistry } from './helpers.js';

/** Whether this machine has a WebGPU adapter: tried once, and the reason printed when not. */
async function webgpuAvailable(): Promise<string | undefined> {
  try {
    const selection = await selectBackend('webgpu');
    console.log(`webgpu tests on ${adapterLabel(selection.adapter!)}`);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await tf.setBackend('cpu');
  }
}
const unavailable = await webgpuAvailable();
if (unavailable) console.warn(`webgpu tests skipped: ${unavailable}`);

afterAll(async () => {
  await tf.setBackend('cpu');
});

/** Runs `f` with `backend` active; tensors made inside are read with `await data()`. */
async function on<T>(backend: 'cpu' | 'webgpu', f: () => Promise<T>): Promise<T> {
  await tf.setBackend(backend);
  await tf.ready();
  return f();
}

/** max |a - b| / max |b|: the relative error of `a` against the reference `b`. */
function relativeError(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}

function randoms(n: number, rng: Rng, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => scale * rng.normal());
}

/** Scores with many equal magnitudes, so the top-k cuts through ties. */
function tiedScores(n: number, rng: Rng, levels: number): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.uniform(0, 1) < 0.5 ? -1 : 1) * Math.floor(rng.uniform(0, levels)) / levels);
}

interface LayerCase {
  name: string;
  inputShape: number[];
  make(rng: Rng): MaskedLayer & { apply(x: tf.Tensor, ctx: ForwardContext): tf.Tensor };
}

const LAYERS: LayerCase[] = [
  { name: 'dense', inputShape: [5, 24], make: (rng) => new MaskedDense('fc', 24, 10, randoms(240, rng, 0.3)) as never },
  { name: 'conv1d', inputShape: [3, 12, 4], make: (rng) => new MaskedConv1d('c1', 4, 6, 3, 1, 'same', randoms(72, rng, 0.3)) as never },
  { name: 'conv2d', inputShape: [2, 8, 8, 3], make: (rng) => new MaskedConv2d('c2', 3, 5, 3, 2, 1, randoms(135, rng, 0.3)) as never },
];

/**
 * One masked layer's forward and its gradients w.r.t. the input, the weight and the scores
 * (straight through the top-k), on `backend`; the mask is found by TopKScorer (on the device on
 * webgpu, by selection on the CPU on cpu).
 */
async function layerPass(backend: 'cpu' | 'webgpu', c: LayerCase) {
  return on(backend, async () => {
    const rng = new Rng(7);
    const layer = c.make(rng);
    const scores = randoms(layer.size, rng);
    const x = tf.tensor(randoms(c.inputShape.reduce((a, b) => a * b, 1), rng), c.inputShape);
    const before = tf.memory().numTensors;
    const scorer = new TopKScorer({ density: 0.4, allocation: 'uniform' });
    const s = tf.tensor(scores, layer.shape);
    let reduce: tf.Tensor | undefined;
    const f = (xi: tf.Tensor, w: tf.Tensor, si: tf.Tensor) => {
      const ctx: ForwardContext = { task: 0, training: true, weight: () => w.mul(scorer.maskWithGradient(si, 0.4)) };
      const y = layer.apply(xi, ctx);
      reduce ??= tf.keep(tf.tensor(randoms(y.size, new Rng(9)), y.shape));
      return y.mul(reduce).sum();
    };
    const { y, grads } = tf.tidy(() => {
      const { value, grads } = tf.valueAndGrads(f)([x, layer.weight, s]);
      const ctx: ForwardContext = { task: 0, training: false, weight: () => layer.weight.mul(scorer.maskWithGradient(s, 0.4)) };
      return { y: layer.apply(x, ctx), grads: [value, ...grads] };
    });
    const mask = tf.tidy(() => scorer.maskTensor(s, 0.4));
    const out = {
      y: (await y.data()) as Float32Array,
      grads: (await Promise.all(grads.map((g) => g.data()))) as Float32Array[],
      mask: (await mask.data()) as Float32Array,
    };
    tf.dispose([y, ...grads, reduce!, mask]);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([x, s]);
    layer.dispose();
    return out;
  });
}

describe.skipIf(unavailable)('webgpu against cpu', () => {
  for (const c of LAYERS) {
    it(`${c.name}: same mask, forward and gradients (input, weight, scores) within 1e-3 relative`, async () => {
      const cpu = await layerPass('cpu', c);
      const gpu = await layerPass('webgpu', c);
      expect(gpu.mask).toEqual(cpu.mask);
      expect(relativeError(gpu.y, cpu.y)).toBeLessThan(1e-3);
      expect(gpu.grads).toHaveLength(4);
      for (let i = 0; i < gpu.grads.length; i++) expect(relativeError(gpu.grads[i]!, cpu.grads[i]!), `gradient ${i}`).toBeLessThan(1e-3);
      // The score gradient is not trivially zero: the check compares something.
      expect(Math.max(...cpu.grads[3]!.map(Math.abs))).toBeGreaterThan(1e-3);
    });
  }

  it('batch norm: forward, input gradient and running statistics within 1e-3 relative', async () => {
    const pass = (backend: 'cpu' | 'webgpu') =>
      on(backend, async () => {
        const rng = new Rng(3);
        const bn = new TaskBatchNorm('bn', 6);
        bn.addTask(0);
        const x = tf.tensor(randoms(4 * 5 * 5 * 6, rng, 2).map((v, i) => v + (i % 6)), [4, 5, 5, 6]);
        const r = tf.tensor(randoms(x.size, rng), x.shape);
        const ctx: ForwardContext = { task: 0, training: true, weight: () => { throw new Error('no masked layer'); } };
        const { value, grads } = tf.valueAndGrads((xi: tf.Tensor) => bn.apply(xi, ctx).mul(r).sum())([x]);
        const evalY = tf.tidy(() => bn.apply(x, { ...ctx, training: false }));
        const out = [await value.data(), await grads[0]!.data(), await evalY.data()] as Float32Array[];
        tf.dispose([x, r, value, ...grads, evalY]);
        bn.dispose();
        return out;
      });
    const cpu = await pass('cpu');
    const gpu = await pass('webgpu');
    for (let i = 0; i < cpu.length; i++) expect(relativeError(gpu[i]!, cpu[i]!), `output ${i}`).toBeLessThan(1e-3);
  });

  it('device top-k keeps exactly the mask of the CPU selection, ties included', async () => {
    const rng = new Rng(11);
    const cases: [Float32Array, number][] = [];
    for (const [n, levels] of [[1000, 7], [4099, 50], [30000, 1000]] as const) {
      const scores = tiedScores(n, rng, levels);
      for (const density of [0.01, 0.1, 0.37, 0.5, 0.9]) cases.push([scores, Math.round(density * n)]);
    }
    cases.push([randoms(20000, rng), 2000], [new Float32Array(64).fill(0.5), 10], [randoms(50, rng), 50], [randoms(50, rng), 1]);
    await on('webgpu', async () => {
      const before = tf.memory().numTensors;
      for (const [scores, k] of cases) {
        const expected = topKAbsMask(scores, k);
        const mask = tf.tidy(() => topKAbsMaskTensor(tf.tensor1d(scores), k));
        const got = (await mask.data()) as Float32Array;
        mask.dispose();
        expect(got.reduce((a, b) => a + b, 0)).toBe(k);
        expect(got).toEqual(expected);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  it('bit-packed masks unpack on the device to the CPU unpacking', async () => {
    const rng = new Rng(5);
    await on('webgpu', async () => {
      const before = tf.memory().numTensors;
      for (const shape of [[1], [7], [3, 5, 2], [16], [17], [9, 33, 4], [1000, 31]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const mask = Float32Array.from({ length: n }, () => (rng.uniform(0, 1) < 0.3 ? 1 : 0));
        const packed = packBits(mask);
        const t = unpackBitsTensor(packed, shape);
        expect(t.shape).toEqual(shape);
        expect((await t.data()) as Float32Array).toEqual(unpackBits(packed, n));
        t.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  it('a masked layer on webgpu finds its training mask and unpacks its finished mask on the device', async () => {
    const scorer = new TopKScorer({ density: 0.25, allocation: 'uniform' });
    const rng = new Rng(2);
    const weight = randoms(30 * 20, rng);
    const scores = tiedScores(600, rng, 40);
    const cpuMask = topKAbsMask(scores, 150);
    await on('webgpu', async () => {
      const layer = new MaskedDense('fc', 30, 20, weight);
      layer.masks.bind(scorer, 0.25);
      layer.addTask(0, scores);
      expect(await layer.masks.readValues(0)).toEqual(cpuMask);
      // readValues cached the values: the synchronous path (finish packs them) works on the GPU backend too.
      layer.masks.finish(0);
      const unpacked = tf.tidy(() => layer.masks.tensor(0));
      expect((await unpacked.data()) as Float32Array).toEqual(cpuMask);
      unpacked.dispose();
      layer.dispose();
    });
  });
});

/**
 * Reads, with `await data()` only, each earlier task's test logits after every task and each
 * weight phase's weights outside the task's editable set E_t (mask minus earlier masks).
 */
class GuaranteeRecorder implements Observer {
  readonly id = 'guarantee-recorder';
  experiment!: Experiment;
  /** logits[j] = task j's test logits after each task from j on. */
  readonly logits: Float32Array[][];
  /** Weights outside E_t that changed during task t's weight phase (must be 0), and inside E_t. */
  readonly changed: { outside: number; inside: number }[] = [];
  private before: Uint32Array[] = [];
  private editable: Float32Array[] = [];

  constructor(tasks: number) {
    this.logits = Array.from({ length: tasks }, () => []);
  }

  async beforePhase(info: PhaseInfo): Promise<void> {
    if (info.phase.name !== 'weight') return;
    const t = info.task.index;
    const layers = this.experiment.backbone.layers;
    this.before = await Promise.all(layers.map(async (l) => new Uint32Array(Float32Array.from(await l.weight.data()).buffer)));
    this.editable = await Promise.all(
      layers.map(async (l) => {
        const out = Float32Array.from(await l.masks.readValues(t));
        for (let j = 0; j < t; j++) {
          const earlier = await l.masks.readValues(j);
          for (let i = 0; i < out.length; i++) if (earlier[i]) out[i] = 0;
        }
        return out;
      }),
    );
  }

  async afterPhase(info: PhaseInfo): Promise<void> {
    if (info.phase.name !== 'weight') return;
    let outside = 0;
    let inside = 0;
    const layers = this.experiment.backbone.layers;
    for (let li = 0; li < layers.length; li++) {
      const now = new Uint32Array(Float32Array.from(await layers[li]!.weight.data()).buffer);
      for (let i = 0; i < now.length; i++) {
        if (now[i] === this.before[li]![i]) continue;
        if (this.editable[li]![i]) inside++;
        else outside++;
      }
    }
    this.changed.push({ outside, inside });
  }

  async afterTask({ task }: { task: Task }): Promise<void> {
    for (let j = 0; j <= task.index; j++) {
      const t = this.experiment.stream.tasks[j]!;
      const x = tf.tensor(t.test.x, [t.test.n, ...t.inputShape]);
      const logits = this.experiment.logits(x, j);
      this.logits[j]!.push(Float32Array.from(await logits.data()));
      tf.dispose([x, logits]);
    }
  }
}

/** A registry with `tiny-images`: 4 Gaussian-blob classes drawn as 8x8 one-channel images (for the ResNet). */
function imageRegistry() {
  const registry = testRegistry();
  registry.register({
    kind: 'dataset',
    id: 'tiny-images',
    description: 'Gaussian blobs as 8x8 images (tests)',
    schema: { type: 'object', properties: {} },
    create: () => ({ load: async () => ({ ...blobs(4, 4, 64, 16, 6), name: 'tiny-images', inputShape: [8, 8, 1] }) }),
  });
  return registry;
}

const PHASES = {
  supsup: { mask_phase: { epochs: 2, lr: 0.05, batch_size: 16 } },
  exssnet: { mask_phase: { epochs: 2, lr: 0.05, batch_size: 16 }, weight_phase: { epochs: 2, lr: 0.01, batch_size: 16 } },
};

/** A tiny ResNet-18 (width 2) on 8x8 images, 2 tasks of 2 classes, with the protected-weights guard on. */
function resnetConfig(strategy: 'supsup' | 'exssnet', backend: 'webgpu' | 'cpu') {
  return blobsConfig({
    name: `tiny-resnet-${strategy}`,
    backend,
    dataset: { id: 'tiny-images' },
    stream: { id: 'split', options: { tasks: 2, classes_per_task: 2 } },
    backbone: { id: 'resnet18', options: { nf: 2 } },
    strategy: { id: strategy, options: { mask_phase: { epochs: 1, lr: 0.05, batch_size: 16 }, ...(strategy === 'exssnet' ? { weight_phase: { epochs: 1, lr: 0.01, batch_size: 16 } } : {}) } },
    batch_norm: { recalibration_examples: 32, batch_size: 16 },
    debug: { check_protected_weights: true },
  });
}

async function train(
  strategy: 'supsup' | 'exssnet',
  backend: 'webgpu' | 'cpu',
  raw: Record<string, unknown> = blobsConfig({ backend, strategy: { id: strategy, options: PHASES[strategy] } }),
  registry = testRegistry(),
): Promise<{ results: ExperimentResults; recorder: GuaranteeRecorder }> {
  const config = resolveConfig(raw, registry);
  const recorder = new GuaranteeRecorder(config.stream.options.tasks as number);
  const experiment = await Experiment.create({ config, registry, observers: [recorder] });
  recorder.experiment = experiment;
  try {
    return { results: await experiment.run(), recorder };
  } finally {
    experiment.dispose();
    await tf.setBackend('cpu');
  }
}

/** Earlier tasks' logits after every later task are bit for bit those right after the task. */
function expectNoForgetting(recorder: GuaranteeRecorder, results: ExperimentResults): void {
  const tasks = recorder.logits.length;
  for (let j = 0; j < tasks; j++) {
    expect(recorder.logits[j]).toHaveLength(tasks - j);
    for (const later of recorder.logits[j]!.slice(1)) expect(new Uint32Array(later.buffer)).toEqual(new Uint32Array(recorder.logits[j]![0]!.buffer));
  }
  expect(results.forgetting).toBe(0);
}

/** Each weight phase changed weights inside the task's editable set and none outside it. */
function expectProtectedWeights(recorder: GuaranteeRecorder, tasks: number): void {
  expect(recorder.changed).toHaveLength(tasks);
  for (const c of recorder.changed) {
    expect(c.outside).toBe(0);
    expect(c.inside).toBeGreaterThan(0);
  }
}

describe.skipIf(unavailable)('training on webgpu (Experiment API, reads with await data())', () => {
  it('SupSup: earlier tasks bit for bit unchanged, the same seed gives the same accuracy matrix and logits', async () => {
    const first = await train('supsup', 'webgpu');
    expect(first.results.backend).toBe('webgpu');
    expectNoForgetting(first.recorder, first.results);
    for (let j = 0; j < 3; j++) expect(first.results.accuracy_matrix[2]![j]!).toBeGreaterThan(0.8);
    const again = await train('supsup', 'webgpu');
    expect(again.results.accuracy_matrix).toEqual(first.results.accuracy_matrix);
    expect(again.recorder.logits).toEqual(first.recorder.logits);
  });

  it('ExSSNeT: protected weights unchanged bit for bit, earlier logits unchanged, accuracies within one test example of cpu', async () => {
    const gpu = await train('exssnet', 'webgpu');
    expectNoForgetting(gpu.recorder, gpu.results);
    expectProtectedWeights(gpu.recorder, 3);
    const cpu = await train('exssnet', 'cpu');
    const oneExample = 1 / 40 + 1e-9;
    gpu.results.accuracy_matrix.forEach((row, i) => row.forEach((v, j) => {
      if (v === null) expect(cpu.results.accuracy_matrix[i]![j]).toBeNull();
      else expect(Math.abs(v - cpu.results.accuracy_matrix[i]![j]!), `after task ${i + 1}, task ${j + 1}`).toBeLessThanOrEqual(oneExample);
    }));
  });

  it('tiny ResNet-18 (width 2, 8x8 images; batch norm, protected-weights guard on): SupSup and ExSSNeT keep earlier tasks bit for bit, same seed same matrix (ExSSNeT, both phases)', async () => {
    for (const strategy of ['supsup', 'exssnet'] as const) {
      const first = await train(strategy, 'webgpu', resnetConfig(strategy, 'webgpu'), imageRegistry());
      expect(first.results.backend).toBe('webgpu');
      expectNoForgetting(first.recorder, first.results);
      if (strategy === 'exssnet') expectProtectedWeights(first.recorder, 2);
      // Batch-norm statistics were read (asynchronously) into the task records.
      expect(first.results.tasks[0]!.state_bytes.backbone).toBeGreaterThan(0);
      if (strategy === 'supsup') continue;
      const again = await train(strategy, 'webgpu', resnetConfig(strategy, 'webgpu'), imageRegistry());
      expect(again.results.accuracy_matrix).toEqual(first.results.accuracy_matrix);
      expect(again.recorder.logits).toEqual(first.recorder.logits);
    }
  });
});

/** Split Fashion-MNIST (the embedded subset), LeNet 300-100 at density 0.1: 2 tasks of 256 training images, 1 epoch per phase. */
function fashionConfig(strategy: 'supsup' | 'exssnet', backend: 'webgpu' | 'cpu') {
  const phase = { epochs: 1, optimizer: 'adam', lr: 0.01, batch_size: 64 };
  return {
    name: `fmnist-${strategy}`,
    seed: 0,
    backend,
    dataset: { id: 'fashion-mnist', options: { source: 'embedded' } },
    stream: { id: 'split', options: { tasks: 2, classes_per_task: 2, train_per_task: 256 } },
    backbone: { id: 'lenet', options: { hidden: [300, 100] } },
    strategy: { id: strategy, options: strategy === 'supsup' ? { mask_phase: phase } : { mask_phase: phase, weight_phase: { ...phase, lr: 0.001 } } },
    mask_scorer: { id: 'topk', options: { density: 0.1 } },
    ...(strategy === 'exssnet' ? { ownership_policy: { id: 'exclusive' } } : {}),
  };
}

describe.skipIf(unavailable)('Split Fashion-MNIST (embedded) with LeNet: webgpu against cpu-ort', () => {
  for (const strategy of ['supsup', 'exssnet'] as const) {
    it(`${strategy}: accuracy matrix within 1 point of cpu-ort, forgetting exactly 0, earlier logits bit for bit`, async () => {
      const gpu = await train(strategy, 'webgpu', fashionConfig(strategy, 'webgpu'));
      // Backend `cpu` runs the masked layers on ONNX Runtime (cpu-ort) where installed, as on every supported platform.
      const cpu = await train(strategy, 'cpu', fashionConfig(strategy, 'cpu'));
      expect(gpu.results.backend).toBe('webgpu');
      expect(cpu.results.backend).toBe('cpu-ort');
      console.log(`${strategy} accuracy matrix, webgpu ${JSON.stringify(gpu.results.accuracy_matrix)}, cpu-ort ${JSON.stringify(cpu.results.accuracy_matrix)}`);
      expectNoForgetting(gpu.recorder, gpu.results);
      if (strategy === 'exssnet') expectProtectedWeights(gpu.recorder, 2);
      expect(cpu.results.forgetting).toBe(0);
      gpu.results.accuracy_matrix.forEach((row, i) =>
        row.forEach((v, j) => {
          if (v === null) expect(cpu.results.accuracy_matrix[i]![j]).toBeNull();
          else expect(Math.abs(v - cpu.results.accuracy_matrix[i]![j]!), `after task ${i + 1}, task ${j + 1}`).toBeLessThanOrEqual(0.01 + 1e-9);
        }),
      );
      // The tasks were learned (not two chance-level matrices that agree).
      for (const v of gpu.results.accuracy_matrix[1]!) expect(v!).toBeGreaterThan(0.8);
    });
  }
});

describe.skipIf(unavailable)('the BERT text path on webgpu', () => {
  it('is refused with a config error naming the backend, not a crash in a synchronous read', async () => {
    const { assertSyncReads } = await import('@supermask/backbone-bert');
    const { ConfigError } = await import('@supermask/core');
    await on('webgpu', async () => {
      expect(() => assertSyncReads('the frozen BERT feature encoder')).toThrow(ConfigError);
      expect(() => assertSyncReads('the frozen BERT feature encoder')).toThrow(/use --backend cpu/);
    });
    await on('cpu', async () => {
      expect(() => assertSyncReads('the frozen BERT feature encoder')).not.toThrow();
    });
  });
});
