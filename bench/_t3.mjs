import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@supermask/core';
import { BertTextEncoder, readEmbedded } from '@supermask/backbone-bert';
const b = await selectBackend(process.argv[2] ?? 'cpu-plain'); console.log(b.backend);
const enc = await BertTextEncoder.load({ model: 'local-bert', max_length: 32, output: 'features', memory_cache_mb: 0 });
const texts = readEmbedded('fortunes').slice(0, 64).map(r => r.text);
let t = performance.now();
const tok = enc.tokenize(texts); console.log('tokenize ms', performance.now() - t);
console.log(Array.from(tok.inputIds.slice(0, 32)).join(' '));
t = performance.now(); enc.model(); console.log('load ms', performance.now() - t);
t = performance.now(); const f = enc.featuresOfTokens(tok); console.log('features ms', performance.now() - t);
t = performance.now(); enc.featuresOfTokens(tok); console.log('features ms again', performance.now() - t);
// stats of features
let s = 0, s2 = 0; for (const v of f) { s += v; s2 += v * v; } console.log('mean', s / f.length, 'rms', Math.sqrt(s2 / f.length));
const m = enc.model(); const n = 64, L = 32;
const ids = tf.tensor2d(tok.inputIds, [n, L], 'int32');
tf.profile(() => tf.tidy(() => m.forward({ inputIds: ids, attentionMask: tf.tensor2d(tok.attentionMask, [n, L], 'int32') }).lastHiddenState.dataSync())).then(p => {
  const k = p.kernels.map(k => ({ name: k.name, ms: k.kernelTimeMs })).reduce((acc, k) => { acc[k.name] = (acc[k.name] ?? 0) + (typeof k.ms === 'number' ? k.ms : 0); return acc; }, {});
  console.log(Object.entries(k).sort((a, b) => b[1] - a[1]).slice(0, 12));
});
