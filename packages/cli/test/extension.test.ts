import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Experiment, fixedContext, maskPhase, maskWeightGradients, trainingContext, METRICS_COLUMNS, resolveConfig, type ComponentState, type Observer, type PhaseKind, type Registry } from '@supermask/core';
import { blobsConfig, testRegistry } from './helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'supermask-ext-'));

async function run(registry: Registry, raw: Record<string, unknown>, params: { outDir?: string; observers?: Observer[]; signal?: AbortSignal } = {}) {
  const config = resolveConfig(raw, registry);
  const experiment = await Experiment.create({ config, registry, ...params });
  try {
    return { results: await experiment.run(), experiment };
  } finally {
    experiment.dispose();
  }
}

describe('built-in observers', () => {
  it('write metrics.csv (a row per epoch and per evaluation) and events.jsonl in every run directory', async () => {
    const dir = tmp();
    const { results } = await run(testRegistry(), blobsConfig(), { outDir: dir });
    expect(results.config.observers.map((o) => o.id)).toEqual(['metrics-csv', 'events-jsonl']);
    const lines = readFileSync(join(dir, 'metrics.csv'), 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(METRICS_COLUMNS.join(','));
    const rows = lines.slice(1).map((l) => l.split(','));
    const epochs = rows.filter((r) => r[0] === 'epoch');
    const evaluations = rows.filter((r) => r[0] === 'evaluation');
    // 3 tasks x 3 epochs of one mask phase; one evaluation per task.
    expect(epochs).toHaveLength(9);
    expect(epochs.map((r) => [r[1], r[2], r[3]])).toEqual([1, 2, 3].flatMap((t) => [1, 2, 3].map((e) => [String(t), 'mask', String(e)])));
    for (const r of epochs) {
      expect(Number(r[4])).toBeGreaterThan(0);
      expect(r[6]).toBe('');
      expect(r[8]).toBe('0.05');
      expect(r[9]).toBe('');
    }
    // The last epoch's train accuracy is the phase's recorded one, written with full precision.
    expect(epochs[2]![5]).toBe(String(results.tasks[0]!.phases[0]!.train_accuracy));
    expect(evaluations.map((r) => r[9])).toEqual(results.accuracy_matrix.map((row, t) => row.slice(0, t + 1).map(String).join(' ')));
    const events = readFileSync(join(dir, 'events.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { event: string; task?: number });
    expect(events[0]!.event).toBe('beforeExperiment');
    expect(events.at(-1)!.event).toBe('afterExperiment');
    // 120 training examples per task, batch 16: 8 batches x 3 epochs x 3 tasks.
    expect(events.filter((e) => e.event === 'afterBatch')).toHaveLength(72);
    expect(events.filter((e) => e.event === 'afterTask').map((e) => e.task)).toEqual([1, 2, 3]);
  });

  it('awaits async observers, delivers every batch before its epoch ends, and stops cleanly at a batch boundary', async () => {
    const seen: string[] = [];
    let experiment: Experiment | undefined;
    const slow: Observer = {
      id: 'slow',
      afterBatch: async (info) => {
        await new Promise((r) => setTimeout(r, 1));
        seen.push(`b${info.task.index}.${info.epoch}.${info.batch}`);
        if (info.task.index === 1 && info.epoch === 1 && info.batch === 3) experiment!.requestStop();
      },
      afterEpoch: (info) => void seen.push(`e${info.task.index}.${info.epoch}`),
    };
    const registry = testRegistry();
    const dir = tmp();
    experiment = await Experiment.create({ config: resolveConfig(blobsConfig(), registry), registry, observers: [slow], outDir: dir });
    try {
      const results = await experiment.run();
      expect(results.outcome).toMatchObject({ status: 'interrupted', task: 2, phase: 'mask' });
      // Losses are read (and afterBatch delivered) every ~100 ms and at epoch end: the stop takes
      // effect at the first batch boundary after the request was heard.
      const o = results.outcome as { epoch: number; batch: number };
      expect(o.epoch * 100 + o.batch).toBeGreaterThan(2 * 100 + 4);
      expect(results.tasks).toHaveLength(1);
      expect(experiment.finishedTasks).toBe(1);
    } finally {
      experiment.dispose();
    }
    expect(seen.slice(0, 9)).toEqual([...Array.from({ length: 8 }, (_, b) => `b0.0.${b}`), 'e0.0']);
    expect(seen).toContain('b1.1.3');
    expect(seen.filter((e) => e.startsWith('b1.2.') || e === 'e1.2')).toEqual([]);
    const written = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    expect(written.outcome.status).toBe('interrupted');
    expect(JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')).completed_tasks).toBe(1);
  });

  it('stops when the AbortSignal is aborted', async () => {
    const controller = new AbortController();
    const { results } = await run(testRegistry(), blobsConfig(), { signal: controller.signal, observers: [{ id: 'abort', afterTask: () => controller.abort() }] });
    expect(results.outcome).toEqual({ status: 'interrupted', task: 2, phase: '', epoch: 1, batch: 1 });
    expect(results.accuracy_matrix).toHaveLength(1);
  });
});

/** A third-party observer with state: counts the tasks it saw finish. */
class TaskCounter implements Observer {
  readonly id = 'task-counter';
  finished: number[] = [];
  afterTask(info: { task: { index: number } }): void {
    this.finished.push(info.task.index);
  }
  saveState(): ComponentState {
    return { json: { finished: this.finished }, tensors: {} };
  }
  loadState(state: ComponentState): void {
    this.finished = [...(state.json as { finished: number[] }).finished];
  }
}

/** A third-party phase kind with state: the mask phase, counting its steps across the run. */
class CountingMaskPhase implements PhaseKind {
  readonly id = 'counting-mask';
  steps = 0;
  async begin(setup: Parameters<PhaseKind['begin']>[0]) {
    const inner = await maskPhase.begin(setup);
    return { ...inner, afterStep: async (step: { epoch: number; batch: number }) => {
      this.steps++;
      await inner.afterStep?.(step);
    } };
  }
  saveState(): ComponentState {
    return { json: { steps: this.steps } };
  }
  loadState(state: ComponentState): void {
    this.steps = (state.json as { steps: number }).steps;
  }
}

function extendedRegistry(made: { counters: TaskCounter[]; phases: CountingMaskPhase[] }): Registry {
  const registry = testRegistry();
  const none = { type: 'object', additionalProperties: false, properties: {} };
  registry.register({ kind: 'observer', id: 'task-counter', description: 'test', schema: none, create: () => { const c = new TaskCounter(); made.counters.push(c); return c; } });
  registry.register({ kind: 'phase', id: 'counting-mask', description: 'test', schema: none, create: () => { const p = new CountingMaskPhase(); made.phases.push(p); return p; } });
  return registry;
}

describe('the state protocol', () => {
  it("checkpoints and restores a third-party observer's and phase kind's state, and resumes to the same accuracy matrix", async () => {
    const raw = blobsConfig({
      strategy: { id: 'recipe', options: { phases: [{ name: 'counting-mask', epochs: 3, lr: 0.05, batch_size: 16 }] } },
      ownership_policy: { id: 'frozen' },
      observers: [{ id: 'task-counter' }, { id: 'metrics-csv' }],
    });
    const whole = { counters: [] as TaskCounter[], phases: [] as CountingMaskPhase[] };
    const full = await run(extendedRegistry(whole), raw);
    expect(whole.counters[0]!.finished).toEqual([0, 1, 2]);
    expect(whole.phases[0]!.steps).toBe(72);

    // Stopped after task 2, then resumed with a fresh registry (fresh component instances).
    const dir = tmp();
    const second = { counters: [] as TaskCounter[], phases: [] as CountingMaskPhase[] };
    const registry2 = extendedRegistry(second);
    const partial = await Experiment.create({ config: resolveConfig(raw, registry2), registry: registry2, outDir: dir, observers: [{ id: 'stopper', afterTask: (info) => void (info.task.index === 1 && partial.requestStop()) }] });
    try {
      expect((await partial.run()).outcome).toEqual({ status: 'interrupted', task: 3, phase: '', epoch: 1, batch: 1 });
    } finally {
      partial.dispose();
    }
    const checkpoint = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8'));
    expect(checkpoint.components['observers/0']).toEqual({ finished: [0, 1] });
    expect(checkpoint.components['phase/counting-mask']).toEqual({ steps: 48 });
    const third = { counters: [] as TaskCounter[], phases: [] as CountingMaskPhase[] };
    const before = tf.memory().numTensors;
    const resumed = await Experiment.resume(dir, { registry: extendedRegistry(third) });
    try {
      expect(third.counters[0]!.finished).toEqual([0, 1]);
      expect(third.phases[0]!.steps).toBe(48);
      const results = await resumed.run();
      expect(results.accuracy_matrix).toEqual(full.results.accuracy_matrix);
      expect(third.counters[0]!.finished).toEqual([0, 1, 2]);
      expect(third.phases[0]!.steps).toBe(72);
    } finally {
      resumed.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

/**
 * A PackNet-like prune phase written against the public API only: no scores (mask scorer
 * `none`), the phase sets the task's mask at its end: the weights earlier tasks use, plus the
 * largest-magnitude `keep` fraction of the free ones.
 */
const prunePhase: PhaseKind = {
  id: 'test-prune',
  begin({ task, backbone, learned, spec }) {
    const keep = (spec.options as { keep: number }).keep;
    return {
      variables: [],
      context: () => fixedContext(task.index),
      end: async () => {
        for (const layer of backbone.layers) {
          const w = (await layer.weight.data()) as Float32Array;
          const used = new Uint8Array(layer.size);
          for (let j = 0; j < learned; j++) layer.masks.values(j).forEach((m, i) => void (m !== 0 && (used[i] = 1)));
          const free = Array.from({ length: layer.size }, (_, i) => i).filter((i) => !used[i]);
          free.sort((a, b) => Math.abs(w[b]!) - Math.abs(w[a]!) || a - b);
          const mask = Float32Array.from(used);
          for (const i of free.slice(0, Math.round(keep * free.length))) mask[i] = 1;
          layer.masks.setMask(task.index, mask);
        }
      },
    };
  },
};

describe('a recipe of phase kinds', () => {
  it('trains free weights, prunes by magnitude in a phase that sets the mask, retrains, and forgets nothing (no scores)', async () => {
    const registry = testRegistry();
    registry.register({
      kind: 'phase',
      id: 'test-prune',
      description: 'test',
      schema: { type: 'object', additionalProperties: false, properties: { keep: { type: 'number', default: 0.5 } } },
      create: () => prunePhase,
    });
    let kept: number[][] = [];
    let sizes: number[] = [];
    // Observers read the masks through the run's view.
    const probe: Observer = {
      id: 'probe',
      afterExperiment: (_info, view) => {
        sizes = view.backbone.layers.map((l) => l.size);
        kept = [0, 1, 2].map((t) => view.masks(t).map((m) => m.reduce((a, b) => a + b, 0)));
      },
    };
    const { results } = await run(
      registry,
      blobsConfig({
        strategy: {
          id: 'recipe',
          options: {
            phases: [
              { name: 'weight', epochs: 2, lr: 0.01, batch_size: 16 },
              { name: 'test-prune', epochs: 0, options: { keep: 0.25 } },
              { name: 'weight', epochs: 1, lr: 0.01, batch_size: 16 },
            ],
          },
        },
        mask_scorer: { id: 'none' },
        ownership_policy: { id: 'exclusive' },
        debug: { check_protected_weights: true },
      }),
      { observers: [probe] },
    );
    expect(results.tasks[0]!.phases.map((p) => p.name)).toEqual(['weight', 'test-prune', 'weight']);
    expect(results.forgetting).toBe(0);
    for (let j = 0; j < 3; j++) expect(results.accuracy_matrix[2]![j]!).toBeGreaterThan(0.8);
    // Task 1 keeps a quarter of every layer; each later task adds a quarter of what is still free.
    expect(kept[0]).toEqual(sizes.map((n) => Math.round(0.25 * n)));
    kept[1]!.forEach((k, i) => expect(k).toBe(kept[0]![i]! + Math.round(0.25 * (sizes[i]! - kept[0]![i]!))));
  });
});

/**
 * A WSN-like phase from the public API only: the task's scores (straight-through top-k) and, at
 * the same time, the weights no earlier task uses (gradients times that free set) train.
 */
const scoresAndFreeWeights: PhaseKind = {
  id: 'test-wsn',
  begin({ task, backbone, learned }) {
    const layers = backbone.layers;
    const free = layers.map((l) => {
      const values = new Float32Array(l.size).fill(1);
      for (let j = 0; j < learned; j++) l.masks.values(j).forEach((m, i) => void (m !== 0 && (values[i] = 0)));
      return tf.keep(tf.tensor(values, l.shape));
    });
    for (const l of layers) l.weight.trainable = true;
    return {
      variables: [...layers.map((l) => l.scores(task.index)), ...layers.map((l) => l.weight)],
      context: () => trainingContext(task.index),
      transformGradients: (grads) => maskWeightGradients(grads, layers, free),
      afterStep: () => layers.forEach((l) => l.masks.invalidate(task.index)),
      dispose: () => {
        tf.dispose(free);
        for (const l of layers) l.weight.trainable = false;
      },
    };
  },
};

describe('a phase that trains scores and weights together', () => {
  it('learns every task from a standard init and forgets nothing', async () => {
    const registry = testRegistry();
    registry.register({ kind: 'phase', id: 'test-wsn', description: 'test', schema: { type: 'object', properties: {} }, create: () => scoresAndFreeWeights });
    const before = tf.memory().numTensors;
    const { results } = await run(
      registry,
      blobsConfig({
        backbone: { id: 'lenet', options: { hidden: [32, 16], weight_init: 'kaiming_normal' } },
        strategy: { id: 'recipe', options: { phases: [{ name: 'test-wsn', epochs: 3, lr: 0.01, batch_size: 16 }] } },
        ownership_policy: { id: 'exclusive' },
      }),
    );
    expect(results.forgetting).toBe(0);
    for (let j = 0; j < 2; j++) expect(results.accuracy_matrix[2]![j]).toBe(results.accuracy_matrix[j]![j]);
    for (let j = 0; j < 3; j++) expect(results.accuracy_matrix[2]![j]!).toBeGreaterThan(0.8);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the training loop', () => {
  it('yields to the event loop while it trains (at least once per epoch)', async () => {
    let ticks = 0;
    let running = true;
    const tick = () => {
      ticks++;
      if (running) setImmediate(tick);
    };
    let ticksInTraining = 0;
    const probe: Observer = {
      id: 'ticks',
      beforeEpoch: () => {
        ticksInTraining -= ticks;
      },
      afterEpoch: () => {
        ticksInTraining += ticks;
      },
    };
    setImmediate(tick);
    try {
      await run(testRegistry(), blobsConfig(), { observers: [probe] });
    } finally {
      running = false;
    }
    // 3 tasks x 3 epochs, each epoch yields at least once.
    expect(ticksInTraining).toBeGreaterThanOrEqual(9);
  });
});
