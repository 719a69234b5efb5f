import * as tf from '@tensorflow/tfjs';
import { Experiment, resolveConfig, Registry, registerCoreComponents } from '@supermask/core';
import { register as regSup } from '@supermask/strategy-supsup';
import { register as regBert } from '@supermask/backbone-bert';
const registry = new Registry(); registerCoreComponents(registry); regSup(registry); regBert(registry);
const config = resolveConfig({
  seed: 0, backend: process.argv[2] ?? 'cpu-plain',
  dataset: { id: 'local-text', options: { domains: ['spam'], encoder: { output: 'features', max_length: 32 } } },
  stream: { id: 'text-domains', options: { train_per_class: 40, test_per_class: 20 } },
  backbone: { id: 'kim-cnn', options: { filters: 16 } },
  strategy: { id: 'supsup', options: { mask_phase: { epochs: 8, lr: 0.01, batch_size: 16 } } },
  mask_scorer: { id: 'topk', options: { density: 0.3 } },
}, registry);
let t = performance.now();
const e = await Experiment.create({ config, registry });
console.log('create', performance.now() - t);
const task = e.stream.tasks[0];
console.log(task.train.n, task.train.x.length, Array.from(task.train.y).join(''));
const x = task.train.x; let nz = 0; for (const v of x) if (v !== 0) nz++; console.log('nonzero frac', nz / x.length);
const plugin = { id: 'p', afterEpoch: (i) => console.log('epoch', i.epoch, 'loss', i.loss.toFixed(4), 'acc', i.trainAccuracy.toFixed(3), 'sps', i.samplesPerSecond.toFixed(1)) };
e.plugins?.push?.(plugin);
const e2 = await Experiment.create({ config, registry, plugins: [plugin] });
t = performance.now();
const r = await e2.run();
console.log('run', performance.now() - t, r.accuracy_matrix);
