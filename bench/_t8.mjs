import { Experiment, resolveConfig, Registry, registerCoreComponents } from '@supermask/core';
import { register as regSup } from '@supermask/strategy-supsup';
import { register as regEx } from '@supermask/strategy-exssnet';
import { register as regBert } from '@supermask/backbone-bert';
const registry = new Registry(); registerCoreComponents(registry); regSup(registry); regEx(registry); regBert(registry);
const [domains, L, filters, lr, epochs, density, strategy] = [process.argv[2].split(','), +process.argv[3], +process.argv[4], +process.argv[5], +process.argv[6], +process.argv[7], process.argv[8] ?? 'supsup'];
const config = resolveConfig({
  seed: 0, backend: 'cpu',
  dataset: { id: 'local-text', options: { domains, encoder: { output: 'features', max_length: L } } },
  stream: { id: 'text-domains', options: {} },
  backbone: { id: 'kim-cnn', options: { filters } },
  strategy: { id: strategy, options: { mask_phase: { epochs, lr, batch_size: 32 }, ...(strategy === 'exssnet' ? { weight_phase: { epochs: Math.ceil(epochs / 2), lr: lr / 10, batch_size: 32 } } : {}) } },
  mask_scorer: { id: 'topk', options: { density } },
}, registry);
const t = performance.now();
const e = await Experiment.create({ config, registry });
const t1 = performance.now();
const r = await e.run();
console.log(process.argv.slice(2).join(' '), 'features s', ((t1 - t) / 1000).toFixed(1), 'run s', ((performance.now() - t1) / 1000).toFixed(1), JSON.stringify(r.accuracy_matrix.map(row => row.map(v => v === null ? null : +v.toFixed(3)))));
