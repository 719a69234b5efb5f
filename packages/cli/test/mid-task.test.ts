import * as tf from '@tensorflow/tfjs-core';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Experiment, maskPhase, readCheckpoint, resolveConfig, Rng, storedTensor, type LabeledDataset, type Observer, type PhaseKind, type PhaseSetup, type RngState } from '@supermask/core';
import { blobsConfig, metricsRows, testRegistry } from './helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'supermask-midtask-'));

/** ExSSNeT + KKT on blobs: a mask phase (adam) and a weight phase per task, 3 tasks. */
const exssnet = (checkpoint: Record<string, unknown> = {}) =>
  blobsConfig({
    name: 'blobs-exssnet',
    strategy: { id: 'exssnet', options: { mask_phase: { epochs: 2, lr: 0.05, batch_size: 16 }, weight_phase: { epochs: 2, lr: 0.01, batch_size: 32, optimizer: 'sgd', momentum: 0.9 } } },
    knowledge_transfer: { id: 'kkt', options: { k: 5 } },
    evaluation: { each_epoch: true },
    checkpoint: { every_minutes: 0, ...checkpoint },
  });

async function runAll(raw: Record<string, unknown>, outDir?: string, observers: Observer[] = []): Promise<{ matrix: (number | null)[][]; experiment: Experiment; outcome: unknown }> {
  const registry = testRegistry();
  const experiment = await Experiment.create({ config: resolveConfig(raw, registry), registry, ...(outDir ? { outDir } : {}), observers });
  try {
    const results = await experiment.run();
    return { matrix: results.accuracy_matrix, experiment, outcome: results.outcome };
  } finally {
    experiment.dispose();
  }
}

/** Every tensor of a run directory's checkpoint as name -> hex bytes. */
function tensorBytes(dir: string): Map<string, string> {
  return new Map([...readCheckpoint(dir).tensors].map(([name, t]) => [name, Buffer.from(t.bytes).toString('hex')]));
}

/** How many times each event (with its task, phase, epoch and batch) is in events.jsonl. */
function eventCounts(dir: string, events: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of readFileSync(join(dir, 'events.jsonl'), 'utf8').trim().split('\n')) {
    const e = JSON.parse(line) as Record<string, unknown>;
    if (!events.includes(e.event as string)) continue;
    const key = JSON.stringify([e.event, e.task, e.index, e.epoch, e.batch]);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Asks the run to stop in beforeBatch of (task, phase, epoch, batch), 0-based. */
function stopAt(where: { task: number; phase: number; epoch: number; batch: number }, experiment: () => Experiment): Observer {
  return {
    id: 'stop-at',
    beforeBatch: (info) => {
      if (info.task.index === where.task && info.index === where.phase && info.epoch === where.epoch && info.batch === where.batch) experiment().requestStop();
    },
  };
}

describe('mid-task checkpoints', () => {
  it('a stop mid-epoch writes a checkpoint at the batch boundary; resumed, the run ends with the same accuracy matrix, bit for bit', async () => {
    const referenceDir = tmp();
    const reference = await runAll(exssnet(), referenceDir);
    const referenceTensors = tensorBytes(referenceDir);
    // requestStop() in beforeBatch(b): the run stops at the next boundary, before `at` (120 examples
    // per task: 8 mask batches, 4 weight batches per epoch). Mid-epoch in the mask and the weight
    // phase, at an epoch boundary, and at the boundary between the phases.
    const stops = [
      { request: { task: 1, phase: 0, epoch: 1, batch: 3 }, at: { task: 1, phase: 0, epoch: 1, batch: 4 } },
      { request: { task: 2, phase: 1, epoch: 0, batch: 1 }, at: { task: 2, phase: 1, epoch: 0, batch: 2 } },
      { request: { task: 0, phase: 0, epoch: 0, batch: 7 }, at: { task: 0, phase: 0, epoch: 1, batch: 0 } },
      { request: { task: 1, phase: 0, epoch: 1, batch: 7 }, at: { task: 1, phase: 1, epoch: 0, batch: 0 } },
    ];
    for (const { request, at: where } of stops) {
      const dir = tmp();
      const registry = testRegistry();
      const partial: Experiment = await Experiment.create({ config: resolveConfig(exssnet(), registry), registry, outDir: dir, observers: [stopAt(request, () => partial)] });
      const stopped = await partial.run();
      partial.dispose();
      // Stopped before batch `where.batch` ran: that is the next batch to train.
      expect(stopped.outcome).toEqual({ status: 'interrupted', task: where.task + 1, phase: where.phase === 1 ? 'weight' : 'mask', epoch: where.epoch + 1, batch: where.batch + 1 });
      const m = readCheckpoint(dir).manifest;
      expect(m.format_version).toBe(2);
      expect(m.completed_tasks).toBe(where.task);
      expect(m.position).toMatchObject({ task: where.task, phase: where.phase, epoch: where.epoch, batch: where.batch });
      // A mid-task manifest labelled as an end-of-task one (version 1) is refused, naming the file.
      const manifestFile = join(dir, 'checkpoint.json');
      const text = readFileSync(manifestFile, 'utf8');
      writeFileSync(manifestFile, JSON.stringify({ ...m, format_version: 1 }));
      expect(() => readCheckpoint(dir)).toThrow(`${manifestFile}: format version 1 has a position`);
      writeFileSync(manifestFile, text);
      const before = tf.memory().numTensors;
      const firstStep: { epoch: number; batch: number }[] = [];
      const resumed = await Experiment.resume(dir, { registry: testRegistry(), observers: [{ id: 'first', beforeBatch: (i) => void firstStep.push({ epoch: i.epoch, batch: i.batch }) }] });
      expect(resumed.resumePosition).toMatchObject({ task: where.task, batch: where.batch });
      const results = await resumed.run();
      resumed.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(firstStep[0]).toEqual({ epoch: where.epoch, batch: where.batch });
      expect(results.outcome).toEqual({ status: 'completed' });
      expect(results.accuracy_matrix).toEqual(reference.matrix);
      // Weights, masks and batch-norm statistics of the final checkpoint: the same bytes.
      expect(tensorBytes(dir)).toEqual(referenceTensors);
      // The logs were cut back to the checkpoint before the resumed run appended: no epoch,
      // evaluation or batch is in them twice, and none is missing.
      expect(metricsRows(dir)).toEqual(metricsRows(referenceDir));
      const logged = ['afterBatch', 'afterEpoch', 'afterEval', 'afterTask'];
      expect(eventCounts(dir, logged)).toEqual(eventCounts(referenceDir, logged));
      expect(results.tasks.map((t) => t.phases.map((p) => p.steps))).toEqual(reference.experiment.taskRecords.map((t) => t.phases.map((p) => p.steps)));
      expect(results.tasks.map((t) => t.phases.map((p) => p.epoch_accuracy))).toEqual(reference.experiment.taskRecords.map((t) => t.phases.map((p) => p.epoch_accuracy)));
      // The end-of-task checkpoint replaced the mid-task one; one tensors file is left.
      expect(readCheckpoint(dir).manifest).not.toHaveProperty('position');
      expect(readdirSync(dir).filter((f) => f.endsWith('.safetensors'))).toEqual(['checkpoint-task-0003.safetensors']);
    }
  });

  it('after a crash, the resumed run cuts metrics.csv and events.jsonl back to its checkpoint: nothing logged twice', async () => {
    const referenceDir = tmp();
    const reference = await runAll(exssnet(), referenceDir);
    // A crash (an exception, as a kill would leave it) in task 2's second mask epoch: its first
    // epoch's rows were appended after the last periodic checkpoint (every 5 steps, 8 per epoch).
    const dir = tmp();
    const registry = testRegistry();
    const crash: Observer = {
      id: 'crash',
      beforeBatch: (info) => {
        if (info.task.index === 1 && info.index === 0 && info.epoch === 1 && info.batch === 0) throw new Error('simulated crash');
      },
    };
    const crashed = await Experiment.create({ config: resolveConfig(exssnet({ every_steps: 5 }), registry), registry, outDir: dir, observers: [crash] });
    await expect(crashed.run()).rejects.toThrow('simulated crash');
    crashed.dispose();
    const at = readCheckpoint(dir).manifest.position!;
    expect(at).toMatchObject({ task: 1 });
    const resumed = await Experiment.resume(dir, { registry: testRegistry() });
    const results = await resumed.run();
    resumed.dispose();
    expect(results.accuracy_matrix).toEqual(reference.matrix);
    expect(metricsRows(dir)).toEqual(metricsRows(referenceDir));
    const logged = ['afterBatch', 'afterEpoch', 'afterEval', 'afterTask'];
    expect(eventCounts(dir, logged)).toEqual(eventCounts(referenceDir, logged));
  });

  it('writes a checkpoint every N steps (checkpoint.every_steps) without changing the results', async () => {
    const reference = await runAll(exssnet());
    const dir = tmp();
    const seen: { task: number; phase: number; epoch: number; batch: number; steps: number }[] = [];
    const registry = testRegistry();
    // An observer reads each checkpoint as it appears (they are written at batch boundaries, before beforeBatch).
    const watcher: Observer = {
      id: 'watch',
      beforeBatch: () => {
        try {
          const p = readCheckpoint(dir).manifest.position;
          if (p && (seen.length === 0 || seen.at(-1)!.steps !== p.steps || seen.at(-1)!.phase !== p.phase || seen.at(-1)!.task !== p.task)) seen.push({ task: p.task, phase: p.phase, epoch: p.epoch, batch: p.batch, steps: p.steps });
        } catch {
          // No checkpoint yet.
        }
      },
    };
    const experiment = await Experiment.create({ config: resolveConfig(exssnet({ every_steps: 5 }), registry), registry, outDir: dir, observers: [watcher] });
    const results = await experiment.run();
    experiment.dispose();
    expect(results.accuracy_matrix).toEqual(reference.matrix);
    // Every 5 steps within a run: each position's step count (of its phase) grows by 7 or restarts with a new phase / task.
    expect(seen.length).toBeGreaterThan(10);
    for (const [i, p] of seen.entries()) {
      const prev = seen[i - 1];
      if (prev && prev.task === p.task && prev.phase === p.phase) expect(p.steps - prev.steps).toBe(5);
    }
  });
});

/** 8x8 grey images of 4 classes (a bright quadrant per class, noise elsewhere): a tiny stand-in for image data. */
function tinyImages(): LabeledDataset {
  const rng = new Rng(9);
  const make = (perClass: number) => {
    const n = 4 * perClass;
    const x = new Float32Array(n * 64);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % 4;
      y[i] = c;
      for (let p = 0; p < 64; p++) {
        const quadrant = (Math.floor(p / 8) >= 4 ? 2 : 0) + (p % 8 >= 4 ? 1 : 0);
        x[i * 64 + p] = (quadrant === c ? 0.8 : 0.2) + 0.3 * rng.normal();
      }
    }
    return { x, y, n };
  };
  return { name: 'tiny-images', inputShape: [8, 8, 1], numClasses: 4, classNames: ['a', 'b', 'c', 'd'], train: make(24), test: make(8), normalization: { mean: [0.5], std: [0.3] }, source: 'generated' };
}

describe('mid-task checkpoints of a ResNet-18', () => {
  it('a killed ResNet-18 task resumes from its last mid-task checkpoint (not the task start) and ends with the same matrix and bytes', async () => {
    const registry = testRegistry();
    registry.register({ kind: 'dataset', id: 'tiny-images', description: '8x8 images (tests)', schema: { type: 'object', properties: {} }, create: () => ({ load: async () => tinyImages() }) });
    const raw = {
      name: 'tiny-resnet',
      seed: 2,
      backend: 'cpu',
      dataset: { id: 'tiny-images' },
      stream: { id: 'split', options: { tasks: 2, classes_per_task: 2 } },
      backbone: { id: 'resnet18', options: { nf: 2 } },
      strategy: { id: 'exssnet', options: { mask_phase: { epochs: 2, lr: 0.05, batch_size: 12 }, weight_phase: { epochs: 1, lr: 0.01, batch_size: 12 } } },
      mask_scorer: { id: 'topk', options: { density: 0.3 } },
      batch_norm: { recalibration_examples: 24, batch_size: 12 },
      augmentation: { crop_padding: 1, horizontal_flip: true },
      checkpoint: { every_steps: 2, every_minutes: 0 },
    };
    // The uninterrupted run; at a batch boundary of task 2 (epoch 2, batch 3) its run directory is
    // copied as it stands, which is what a SIGKILL at that moment leaves (every write is complete).
    const dir = tmp();
    const killed = tmp();
    const run: Experiment = await Experiment.create({
      config: resolveConfig(raw, registry),
      registry,
      outDir: dir,
      observers: [{ id: 'kill', beforeBatch: (i) => void (i.task.index === 1 && i.index === 0 && i.epoch === 1 && i.batch === 2 && cpSync(dir, killed, { recursive: true })) }],
    });
    const reference = await run.run();
    run.dispose();
    const p = readCheckpoint(killed).manifest.position!;
    expect(p).toMatchObject({ task: 1, phase: 0, phase_name: 'mask', epoch: 1, batch: 2 });
    const first: { task: number; epoch: number; batch: number }[] = [];
    const resumed = await Experiment.resume(killed, { registry, observers: [{ id: 'first', beforeBatch: (i) => void first.push({ task: i.task.index, epoch: i.epoch, batch: i.batch }) }] });
    const results = await resumed.run();
    resumed.dispose();
    // The first step trained after the resume is step 1 * 4 + 2 = 6 of task 2 (4 batches per epoch), not step 0.
    expect(first[0]).toEqual({ task: 1, epoch: 1, batch: 2 });
    expect(first[0]!.epoch * 4 + first[0]!.batch).toBeGreaterThan(0);
    expect(results.accuracy_matrix).toEqual(reference.accuracy_matrix);
    expect(tensorBytes(killed)).toEqual(tensorBytes(dir));
    // Batch-norm statistics of both tasks are part of the compared bytes.
    expect([...tensorBytes(dir).keys()].filter((k) => k.startsWith('backbone/1/')).length).toBeGreaterThan(0);
  });
});

/**
 * A mask phase whose session draws a gradient scale from `setup.rng` every step: its RNG state is
 * session state, saved and loaded through PhaseSession.saveState/loadState.
 */
const noisyMask: PhaseKind = {
  id: 'noisy-mask',
  async begin(setup) {
    const inner = await maskPhase.begin(setup);
    const rng = setup.rng;
    let steps = 0;
    return {
      ...inner,
      transformGradients: (grads) => {
        const scale = 0.5 + rng.next();
        steps++;
        return Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, g.mul(scale)]));
      },
      saveState: () => ({ json: { rng: rng.getState(), steps }, tensors: { steps: storedTensor('I32', [1], Int32Array.of(steps)) } }),
      loadState: (state) => {
        const json = state.json as { rng: RngState; steps: number };
        rng.setState(json.rng);
        steps = json.steps;
        expect(Array.from(new Int32Array(state.tensors!.steps!.bytes.slice().buffer))).toEqual([steps]);
      },
    };
  },
};

describe('phase session state in mid-task checkpoints', () => {
  it('saves and loads a session\'s state (saveState/loadState); without loadState such a checkpoint is refused', async () => {
    const registry = () => {
      const r = testRegistry();
      r.register({ kind: 'phase', id: 'noisy-mask', description: 'test', schema: { type: 'object', properties: {} }, create: () => noisyMask });
      return r;
    };
    const raw = blobsConfig({ strategy: { id: 'recipe', options: { phases: [{ name: 'noisy-mask', epochs: 2, lr: 0.05, batch_size: 16 }] } }, ownership_policy: { id: 'frozen' }, checkpoint: { every_minutes: 0 } });
    const referenceDir = tmp();
    const r1 = registry();
    const whole = await Experiment.create({ config: resolveConfig(raw, r1), registry: r1, outDir: referenceDir });
    await whole.run();
    whole.dispose();
    const dir = tmp();
    const r2 = registry();
    const partial: Experiment = await Experiment.create({ config: resolveConfig(raw, r2), registry: r2, outDir: dir, observers: [stopAt({ task: 1, phase: 0, epoch: 0, batch: 5 }, () => partial)] });
    await partial.run();
    partial.dispose();
    const m = readCheckpoint(dir).manifest;
    expect(m.position!.session).toEqual({ rng: expect.any(Array), steps: 6 });
    const copy = tmp();
    cpSync(dir, copy, { recursive: true });
    const resumed = await Experiment.resume(dir, { registry: registry() });
    await resumed.run();
    resumed.dispose();
    expect(tensorBytes(dir)).toEqual(tensorBytes(referenceDir));
    // The same checkpoint with a session that cannot load state: refused, naming the file.
    const plain = testRegistry();
    plain.register({ kind: 'phase', id: 'noisy-mask', description: 'test', schema: { type: 'object', properties: {} }, create: () => ({ id: 'noisy-mask', begin: (s: PhaseSetup) => maskPhase.begin(s) }) });
    const refused = await Experiment.resume(copy, { registry: plain });
    await expect(refused.run()).rejects.toThrow(`it holds state of the "noisy-mask" phase session, which cannot load state`);
    refused.dispose();
  });
});
