import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@supermask/core';
import { BertTextEncoder, readEmbedded } from '@supermask/backbone-bert';
const b = await selectBackend(process.argv[2] ?? 'cpu');
const L = Number(process.argv[3] ?? 32), n = Number(process.argv[4] ?? 64);
const enc = await BertTextEncoder.load({ model: 'local-bert', max_length: L, output: 'features', memory_cache_mb: 0 });
const texts = readEmbedded('spam').slice(0, n).map(r => r.text);
const tok = enc.tokenize(texts); const m = enc.model();
for (let r = 0; r < 4; r++) {
  const t = performance.now();
  const out = tf.tidy(() => m.forward({ inputIds: tf.tensor2d(tok.inputIds, [n, L], 'int32'), attentionMask: tf.tensor2d(tok.attentionMask, [n, L], 'int32') }).lastHiddenState);
  const t1 = performance.now(); out.dataSync(); const t2 = performance.now(); out.dispose();
  console.log(b.backend, 'L', L, 'n', n, 'forward', (t1 - t).toFixed(0), 'dataSync', (t2 - t1).toFixed(0));
}
