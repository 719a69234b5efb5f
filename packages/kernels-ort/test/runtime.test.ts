import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { createOptimizer, FusedOptimizer, OPTIMIZER_STEP_KERNEL as CORE_STEP_KERNEL, type PhaseOptions } from '@supermask/core';
import { GraphBuilder, NCHWC_DOMAIN, nchwcBlockSize, OPTIMIZER_STEP_KERNEL, OrtRuntime, ortRuntime, ortStats, registerOrtBackend, unregisterOrtBackend } from '@supermask/kernels-ort';
import { ORT, uniform } from './helpers.js';

afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('session cache', () => {
  it('keeps at most maxSessions sessions, least recently used out first', () => {
    const runtime = new OrtRuntime({ maxSessions: 3 });
    const add = (k: number) => (): Uint8Array => {
      const g = new GraphBuilder();
      const y = g.node('Add', [g.input('in0', [2]), g.constantFloat([k, k], [2])]);
      g.output(y, 'y', [2]);
      return g.encode();
    };
    const x = Float32Array.from([1, 2]);
    for (let round = 0; round < 2; round++) {
      for (let k = 0; k < 6; k++) expect(Array.from(runtime.run(`add${k}`, add(k), [{ data: x, dims: [2] }]))).toEqual([1 + k, 2 + k]);
    }
    expect(runtime.getStats()).toMatchObject({ sessions: 3, created: 12, evicted: 9, runs: 12 });
    // A hit refreshes a session: add5 is used, then two new ones evict add3 and add4, not add5.
    runtime.run('add5', add(5), [{ data: x, dims: [2] }]);
    runtime.run('add6', add(6), [{ data: x, dims: [2] }]);
    runtime.run('add7', add(7), [{ data: x, dims: [2] }]);
    const created = runtime.getStats().created;
    runtime.run('add5', add(5), [{ data: x, dims: [2] }]);
    expect(runtime.getStats().created).toBe(created);
    runtime.dispose();
    expect(runtime.getStats().sessions).toBe(0);
    expect(() => runtime.run('add1', add(1), [{ data: x, dims: [2] }])).toThrow(/disposed/);
  });

  it('runs small work on one thread and large work on intraOpThreads, in separate sessions', () => {
    const runtime = new OrtRuntime({ intraOpThreads: 2, parallelFlops: 1000 }, 2);
    const build = (): Uint8Array => {
      const g = new GraphBuilder();
      const y = g.node('Gemm', [g.input('in0', ['m', 'k']), g.input('in1', ['k', 'n'])]);
      g.output(y, 'y', ['m', 'n']);
      return g.encode();
    };
    const a = { data: Float32Array.from([1, 2, 3, 4]), dims: [2, 2] };
    expect(Array.from(runtime.run('gemm', build, [a, a], 16))).toEqual([7, 10, 15, 22]);
    expect(Array.from(runtime.run('gemm', build, [a, a], 5000))).toEqual([7, 10, 15, 22]);
    runtime.run('gemm', build, [a, a], 16);
    expect(runtime.getStats()).toMatchObject({ sessions: 2, created: 2, runs: 3 });
    runtime.dispose();
  });

  it('runs a convolutional unit on few pixels on one thread (parallelPixels)', () => {
    const runtime = new OrtRuntime({ intraOpThreads: 2, parallelFlops: 1000, parallelPixels: 256 }, 2);
    expect(runtime.threadsFor(5000)).toBe(2);
    expect(runtime.threadsFor(5000, 1024)).toBe(2);
    expect(runtime.threadsFor(5000, 256)).toBe(2);
    expect(runtime.threadsFor(5000, 64)).toBe(1);
    expect(runtime.threadsFor(16, 1024)).toBe(1);
    const build = (): Uint8Array => {
      const g = new GraphBuilder();
      g.output(g.node('Gemm', [g.input('in0', ['m', 'k']), g.input('in1', ['k', 'n'])]), 'y', ['m', 'n']);
      return g.encode();
    };
    const a = { data: Float32Array.from([1, 2, 3, 4]), dims: [2, 2] };
    // Large work on 64 pixels shares the one-thread session of small work.
    expect(Array.from(runtime.runOutputs('gemm', build, [a, a], ['y'], 16)[0]!)).toEqual([7, 10, 15, 22]);
    expect(Array.from(runtime.runOutputs('gemm', build, [a, a], ['y'], 5000, 64)[0]!)).toEqual([7, 10, 15, 22]);
    expect(runtime.getStats()).toMatchObject({ sessions: 1, created: 1, runs: 2 });
    expect(Array.from(runtime.runOutputs('gemm', build, [a, a], ['y'], 5000, 1024)[0]!)).toEqual([7, 10, 15, 22]);
    expect(runtime.getStats()).toMatchObject({ sessions: 2, created: 2, runs: 3 });
    runtime.dispose();
  });

  it('a backend with a small cache computes the same results over many shapes', async () => {
    const name = 'cpu-ort-small-cache';
    registerOrtBackend({ name, maxSessions: 4 });
    try {
      const results: number[][] = [];
      for (const backend of ['cpu', name]) {
        await tf.setBackend(backend);
        const sums: number[] = [];
        for (let round = 0; round < 2; round++) {
          for (let size = 3; size < 11; size++) {
            sums.push(
              tf.tidy(() => {
                const x = tf.tensor(uniform(2 * size * size * 3, size), [2, size, size, 3]);
                const f = tf.tensor(uniform(3 * 3 * 3 * 2, 99), [3, 3, 3, 2]);
                return tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same').sum().dataSync()[0]!;
              }),
            );
          }
        }
        results.push(sums);
      }
      results[1]!.forEach((v, i) => expect(v).toBeCloseTo(results[0]![i]!, 3));
      const stats = ortStats(name)!;
      expect(stats.sessions).toBe(4);
      expect(stats.created).toBe(16);
      expect(stats.evicted).toBe(12);
    } finally {
      await tf.setBackend('cpu');
      unregisterOrtBackend(name);
    }
  });
});

describe('contrib operator domains', () => {
  it('NCHWc: the probed block size is what ReorderInput pads channels to, and a round trip is exact', () => {
    const runtime = new OrtRuntime();
    try {
      const block = nchwcBlockSize(runtime);
      if (block === undefined) {
        console.log('this onnxruntime-node has no NCHWc contrib ops: nothing to check');
        return;
      }
      expect(block % 4).toBe(0);
      // 12 channels of a 2x3 image: blocked to a multiple of the block, then back to NCHW.
      const x = uniform(2 * 12 * 2 * 3, 9);
      const bytes = (): Uint8Array => {
        const gb = new GraphBuilder();
        const blocked = gb.domainNode(NCHWC_DOMAIN, 1, 'ReorderInput', [gb.input('in0', [2, 12, 2, 3])], {}, 'blocked');
        gb.domainNode(NCHWC_DOMAIN, 1, 'ReorderOutput', [blocked], { channels: 12 }, 'y');
        gb.output('y', 'y', [2, 12, 2, 3]);
        gb.output('blocked', 'blocked', [2, 'C', 2, 3]);
        return gb.encode();
      };
      const [y, blocked] = runtime.runOutputs('roundtrip', bytes, [{ data: x, dims: [2, 12, 2, 3] }], ['y', 'blocked']);
      expect(Array.from(y!)).toEqual(Array.from(x));
      expect(blocked!.length).toBe(2 * Math.ceil(12 / block) * block * 2 * 3);
    } finally {
      runtime.dispose();
    }
  });

  it('a domain asked at two opset versions is refused', () => {
    const gb = new GraphBuilder();
    gb.domainNode('com.example', 1, 'A', [gb.input('in0', [1])]);
    expect(() => gb.domainNode('com.example', 2, 'B', [gb.input('in1', [1])])).toThrow(/domain com.example: opset 2 asked after 1/);
  });
});

describe('lifetime', () => {
  it('no growth over a long run: tensors, backend buffers and sessions stay constant', async () => {
    await tf.setBackend(ORT);
    const conv = tf.variable(tf.tensor(uniform(3 * 3 * 1 * 8, 1, -0.3, 0.3), [3, 3, 1, 8]), true, `conv_${Math.random()}`);
    const dense = tf.variable(tf.tensor(uniform(14 * 14 * 8 * 10, 2, -0.05, 0.05), [14 * 14 * 8, 10]), true, `dense_${Math.random()}`);
    const phase: PhaseOptions = { optimizer: 'adam', lr: 0.01, momentum: 0, epochs: 1, schedule: 'constant', batch_size: 16 };
    const optimizer = createOptimizer(phase);
    expect(optimizer).toBeInstanceOf(FusedOptimizer);
    const step = (i: number): number =>
      tf.tidy(() => {
        // Batch sizes vary (as the last batch of an epoch does): sessions are made per signature, batch excluded.
        const batch = 8 + (i % 3) * 4;
        const x = tf.tensor(uniform(batch * 28 * 28, i + 10), [batch, 28, 28, 1]);
        const y = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, j) => (i + j) % 10), 'int32'), 10);
        const { value, grads } = tf.variableGrads(() => {
          const h = tf.relu(tf.conv2d(x as tf.Tensor4D, conv as tf.Tensor4D, 2, 'same')).reshape([batch, -1]);
          return tf.losses.softmaxCrossEntropy(y, tf.matMul(h as tf.Tensor2D, dense as tf.Tensor2D)) as tf.Scalar;
        }, [conv, dense]);
        optimizer.applyGradients(grads);
        return value.dataSync()[0]!;
      });
    const first = step(0);
    for (let i = 1; i < 6; i++) step(i);
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    const warm = ortStats(ORT)!;
    let last = first;
    for (let i = 6; i < 306; i++) last = step(i);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    const stats = ortStats(ORT)!;
    expect(stats.created).toBe(warm.created);
    expect(stats.sessions).toBe(warm.sessions);
    expect(stats.runs).toBeGreaterThan(warm.runs + 300 * 5);
    expect(last).toBeLessThan(first);
    optimizer.dispose();
    tf.dispose([conv, dense]);
  });

  it('removing the backend releases its sessions', async () => {
    const name = 'cpu-ort-disposable';
    registerOrtBackend({ name });
    await tf.setBackend(name);
    tf.tidy(() => tf.matMul(tf.ones([4, 5]), tf.ones([5, 6])).dataSync());
    const runtime = ortRuntime(name)!;
    expect(runtime.getStats().sessions).toBe(1);
    await tf.setBackend('cpu');
    unregisterOrtBackend(name);
    expect(runtime.getStats().sessions).toBe(0);
    expect(ortStats(name)).toBeNull();
    expect(tf.getKernelsForBackend(name)).toEqual([]);
    // It can be registered again, with a new session cache.
    registerOrtBackend({ name });
    await tf.setBackend(name);
    expect(tf.tidy(() => Array.from(tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).dataSync()))).toEqual([3, 3, 3, 3]);
    expect(ortRuntime(name)).not.toBe(runtime);
    await tf.setBackend('cpu');
    unregisterOrtBackend(name);
  });
});

describe('fused optimiser step kernel', () => {
  it('has the kernel name that core\'s FusedOptimizer looks for', () => {
    expect(OPTIMIZER_STEP_KERNEL).toBe(CORE_STEP_KERNEL);
    expect(tf.getKernel(CORE_STEP_KERNEL, ORT)).toBeDefined();
  });

  const phases: [string, PhaseOptions][] = [
    ['adam', { optimizer: 'adam', lr: 0.01, momentum: 0, epochs: 1, schedule: 'constant', batch_size: 1 }],
    ['rmsprop', { optimizer: 'rmsprop', lr: 0.003, momentum: 0.5, epochs: 1, schedule: 'constant', batch_size: 1 }],
  ];
  for (const [name, phase] of phases) {
    it(`${name}: ONNX Runtime gives the same bits as tfjs's optimiser on plain cpu`, async () => {
      const run = async (backend: string, fused: boolean): Promise<Float32Array> => {
        await tf.setBackend(backend);
        const v = tf.variable(tf.tensor(uniform(5000, 3), [50, 100]), true, `v_${Math.random()}`);
        const optimizer = createOptimizer(phase, fused);
        const runsBefore = ortStats(ORT)?.runs ?? 0;
        for (let s = 0; s < 8; s++) {
          tf.tidy(() => {
            const g = uniform(5000, 100 + s);
            for (let i = 0; i < g.length; i += 4) g[i] = 0;
            optimizer.applyGradients({ [v.name]: tf.tensor(g, [50, 100]) });
          });
        }
        if (backend === ORT) expect((ortStats(ORT)?.runs ?? 0) - runsBefore).toBe(8);
        const out = Float32Array.from(v.dataSync() as Float32Array);
        optimizer.dispose();
        v.dispose();
        return out;
      };
      const reference = await run('cpu', false);
      const ort = await run(ORT, true);
      expect(ort).toEqual(reference);
    });
  }

  it('adam on ONNX Runtime: a weight whose gradient is always zero stays bit-exactly unchanged', async () => {
    await tf.setBackend(ORT);
    const before = uniform(4096, 8);
    const v = tf.variable(tf.tensor(before), true, `z_${Math.random()}`);
    const optimizer = createOptimizer({ optimizer: 'adam', lr: 0.05, momentum: 0, epochs: 1, schedule: 'constant', batch_size: 1 });
    const editable = new Float32Array(4096).map((_, i) => (i % 2 === 0 ? 1 : 0));
    for (let s = 0; s < 10; s++) tf.tidy(() => optimizer.applyGradients({ [v.name]: tf.mul(tf.tensor(uniform(4096, 50 + s)), tf.tensor(editable)) }));
    const after = v.dataSync() as Float32Array;
    for (let i = 1; i < 4096; i += 2) expect(Object.is(after[i], before[i])).toBe(true);
    expect(after[0]).not.toBe(before[0]);
    optimizer.dispose();
    v.dispose();
  });
});
