import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointClock, createOptimizer, loadOptimizerState, Rng, saveOptimizerState, type PhaseOptions, type StoredTensor } from '@supermask/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
  (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
});

const SHAPES = [[7, 5], [300], [3, 3, 2, 4]];
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function variables(seed: number): tf.Variable[] {
  const rng = new Rng(seed);
  return SHAPES.map((shape, i) => tf.tidy(() => tf.variable(tf.tensor(rng.fillUniform(new Float32Array(size(shape)), -1, 1), shape), true, `mid_${i}_${Math.random()}`)));
}

function step(optimizer: tf.Optimizer, vars: tf.Variable[], rng: Rng): void {
  tf.tidy(() => {
    const map: tf.NamedTensorMap = {};
    vars.forEach((v, i) => (map[v.name] = tf.tensor(rng.fillUniform(new Float32Array(v.size), -1, 1), v.shape)));
    optimizer.applyGradients(map);
  });
}

const bits = (vars: tf.Variable[]) => vars.map((v) => Array.from(new Uint32Array(Float32Array.from(v.dataSync() as Float32Array).buffer)));

describe('optimiser state round trip (mid-task checkpoints)', () => {
  const cases: [string, PhaseOptions['optimizer'], number][] = [
    ['adam', 'adam', 0],
    ['sgd with momentum', 'sgd', 0.9],
    ['plain sgd', 'sgd', 0],
    ['rmsprop', 'rmsprop', 0.5],
  ];
  for (const fused of [true, false]) {
    for (const [label, name, momentum] of cases) {
      it(`${fused ? 'FusedOptimizer' : 'tfjs'} ${label}: saved after 4 steps and loaded into fresh variables, the next 3 steps give the same bits`, async () => {
        const phase: PhaseOptions = { epochs: 1, optimizer: name, lr: 0.01, momentum, schedule: 'constant', batch_size: 8 };
        const before = tf.memory().numTensors;
        // Uninterrupted: 7 steps.
        const a = variables(1);
        const oa = createOptimizer(phase, fused);
        const ga = new Rng(2);
        for (let s = 0; s < 7; s++) step(oa, a, ga);
        // Interrupted after 4 steps: state saved, new variables (other names) and a new optimiser.
        const b = variables(1);
        const ob = createOptimizer(phase, fused);
        const gb = new Rng(2);
        for (let s = 0; s < 4; s++) step(ob, b, gb);
        const tensors = new Map<string, StoredTensor>();
        const optimizer = await saveOptimizerState(ob, b, tensors);
        expect(optimizer.iterations).toBe(4);
        expect(optimizer.slots.length).toBe(name === 'adam' || name === 'rmsprop' ? 6 : momentum > 0 ? 3 : 0);
        const c = b.map((v, i) => tf.tidy(() => tf.variable(v.clone(), true, `mid_resumed_${i}_${Math.random()}`)));
        tf.dispose([...b]);
        ob.dispose();
        const oc = createOptimizer(phase, fused);
        await loadOptimizerState(oc, c, { position: { optimizer }, tensors, file: 'test' });
        for (let s = 4; s < 7; s++) step(oc, c, gb);
        expect(bits(c)).toEqual(bits(a));
        oa.dispose();
        oc.dispose();
        tf.dispose([...a, ...c]);
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  it('a checkpoint of another optimiser class is refused, naming the file', async () => {
    const v = variables(3);
    const adam = createOptimizer({ epochs: 1, optimizer: 'adam', lr: 0.01, momentum: 0, schedule: 'constant', batch_size: 8 }, true);
    step(adam, v, new Rng(1));
    const tensors = new Map<string, StoredTensor>();
    const optimizer = await saveOptimizerState(adam, v, tensors);
    const tfAdam = createOptimizer({ epochs: 1, optimizer: 'adam', lr: 0.01, momentum: 0, schedule: 'constant', batch_size: 8 }, false);
    await expect(loadOptimizerState(tfAdam, v, { position: { optimizer }, tensors, file: '/run/checkpoint-task-0001-step-00000004.safetensors' })).rejects.toThrow(
      "/run/checkpoint-task-0001-step-00000004.safetensors: the checkpoint's optimiser is FusedOptimizer, this phase makes Adam",
    );
    adam.dispose();
    tfAdam.dispose();
    tf.dispose(v);
  });
});

describe('CheckpointClock', () => {
  it('is due after every_steps steps, and not before; reset starts counting again', () => {
    const clock = new CheckpointClock({ every_steps: 3, every_minutes: 0 });
    // The loop: at each batch boundary, checkpoint (reset) when due; then one step.
    const saved: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      if (clock.due()) {
        saved.push(batch);
        clock.reset();
      }
      clock.step();
    }
    expect(saved).toEqual([3, 6, 9]);
  });

  it('is due once every_minutes have passed (0 turns time off)', () => {
    const clock = new CheckpointClock({ every_steps: 0, every_minutes: 1e-6 });
    const start = performance.now();
    while (performance.now() - start < 1) {
      /* wait 1 ms: 1e-6 minutes is 0.06 ms */
    }
    expect(clock.due()).toBe(true);
    expect(new CheckpointClock({ every_steps: 0, every_minutes: 0 }).due()).toBe(false);
    expect(new CheckpointClock({ every_steps: 0, every_minutes: 5 }).due()).toBe(false);
  });
});
