import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@supermask/core';
await selectBackend(process.argv[2] ?? 'cpu-plain');
const B = 16, L = 32, H = 64, F = 16, k = 4;
const x = tf.randomNormal([B, L, H]); const w = tf.variable(tf.randomNormal([k, H, F]));
const unfold = (x, w) => { const Lo = L - k + 1; const parts = []; for (let i = 0; i < k; i++) parts.push(x.slice([0, i, 0], [B, Lo, H])); const u = tf.concat(parts, 2).reshape([B * Lo, k * H]); return tf.matMul(u, w.reshape([k * H, F])).reshape([B, Lo, F]); };
const a = tf.conv1d(x, w, 1, 'valid'), b = unfold(x, w);
console.log('max diff', tf.max(tf.abs(a.sub(b))).dataSync()[0]);
for (const [name, f] of [['conv1d', (x, w) => tf.conv1d(x, w, 1, 'valid')], ['unfold', unfold]]) {
  for (let r = 0; r < 3; r++) { const t = performance.now(); tf.tidy(() => { const g = tf.grads((xx, ww) => f(xx, ww).square().sum())([x, w]); g[0].dataSync(); g[1].dataSync(); }); console.log(name, performance.now() - t); }
}
