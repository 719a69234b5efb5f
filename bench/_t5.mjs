import * as tf from '@tensorflow/tfjs';
import { selectBackend, Rng, kaimingUniform, topKAbsMask, keptCount, straightThroughMask } from '@supermask/core';
import { KimCnn } from '@supermask/backbone-bert';
await selectBackend(process.argv[2] ?? 'cpu-plain');
const net = new KimCnn({ inputShape: [32, 64], numClasses: 2 }, { filter_sizes: [3, 4, 5], filters: 16, weight_init: 'signed_constant' }, new Rng(0));
for (const l of net.layers) { l.density = 0.3; l.addTask(0, kaimingUniform(l.size, l.fanIn, new Rng(1))); }
const x = tf.randomNormal([16, 32, 64]); const y = tf.oneHot(tf.tensor1d([0,1,0,1,0,1,0,1,0,1,0,1,0,1,0,1], 'int32'), 2);
const ctx = { task: 0, training: true, weight: (l) => l.weight.mul(straightThroughMask(l.scores(0), (v) => topKAbsMask(v, keptCount(v.length, 0.3)))) };
const vars = net.layers.map(l => l.scores(0));
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  tf.tidy(() => { const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, net.forward(x, ctx)), vars); value.dataSync(); });
  console.log('step ms', performance.now() - t);
}
const p = await tf.profile(() => tf.tidy(() => { const { value } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, net.forward(x, ctx)), vars); return value; }));
const k = p.kernels.reduce((acc, k) => { acc[k.name] = (acc[k.name] ?? 0) + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0); return acc; }, {});
console.log(Object.entries(k).sort((a, b) => b[1] - a[1]).slice(0, 10));
