// Builds models/local-bert: a random-init BERT in the Hugging Face layout (config.json,
// model.safetensors in F16, tokenizer.json, tokenizer_config.json, vocab.txt) with a word-level
// WordPiece vocabulary taken from the embedded local text subset. It stands in for
// bert-base-uncased where no checkpoint can be downloaded: the same code loads it (safetensors
// reader, AutoTokenizer), and its features are random projections that Kim-CNN can learn from.
//   node packages/backbone-bert/scripts/make-local-bert.mjs      (needs the built package)
// Deterministic: seed 0; weights N(0, 0.02) as Hugging Face initialises BERT, LayerNorm 1/0,
// biases 0, the [PAD] embedding 0.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { floatTensor, Rng, writeSafetensors } from '@supermask/core';
import { EMBEDDED_MODELS_DIR, LOCAL_DOMAINS, readEmbedded } from '../dist/index.js';

const CONFIG = {
  architectures: ['BertModel'],
  model_type: 'bert',
  vocab_size: 0,
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 128,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 128,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  position_embedding_type: 'absolute',
};
const WORDS = 3000;
const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

// BERT's basic tokenisation, closely enough for a vocabulary: lower case, accents stripped,
// words of letters and digits, every other non-space character a token of its own.
// Control characters and U+FFFD are dropped first, as BertNormalizer's clean_text does.
const pieces = (text) => text.replace(/[\p{Cc}\p{Cf}\uFFFD]/gu, ' ').toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '').match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? [];

const counts = new Map();
const chars = new Map();
for (const domain of LOCAL_DOMAINS) {
  for (const r of readEmbedded(domain)) {
    if (r.split !== 'train') continue;
    for (const p of pieces(r.text)) {
      counts.set(p, (counts.get(p) ?? 0) + 1);
      for (const ch of p) chars.set(ch, (chars.get(ch) ?? 0) + 1);
    }
  }
}
const singles = [...chars.entries()].filter(([, n]) => n >= 3).map(([c]) => c).sort();
const continuation = singles.filter((c) => /[\p{L}\p{N}]/u.test(c)).map((c) => `##${c}`);
const words = [...counts.entries()]
  .filter(([w, n]) => n >= 2 && w.length > 1)
  .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  .slice(0, WORDS)
  .map(([w]) => w);
const vocab = [...new Set([...SPECIAL, ...singles, ...continuation, ...words])];
const id = Object.fromEntries(vocab.map((t, i) => [t, i]));
const config = { ...CONFIG, vocab_size: vocab.length };

const template = JSON.parse(readFileSync(new URL('../test/fixtures/tiny-bert/tokenizer.json', import.meta.url), 'utf8'));
const tokenizer = {
  ...template,
  added_tokens: SPECIAL.map((content, i) => ({ id: i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
  post_processor: {
    ...template.post_processor,
    special_tokens: {
      '[CLS]': { id: '[CLS]', ids: [id['[CLS]']], tokens: ['[CLS]'] },
      '[SEP]': { id: '[SEP]', ids: [id['[SEP]']], tokens: ['[SEP]'] },
    },
  },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: id },
};
const tokenizerConfig = {
  tokenizer_class: 'BertTokenizer',
  do_lower_case: true,
  model_max_length: config.max_position_embeddings,
  cls_token: '[CLS]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  unk_token: '[UNK]',
  mask_token: '[MASK]',
};

const rng = new Rng(0);
const normal = (shape, name) => {
  const r = rng.child(name);
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = 0.02 * r.normal();
  return { shape, values };
};
const filled = (n, v) => ({ shape: [n], values: new Float32Array(n).fill(v) });
const H = config.hidden_size;
const I = config.intermediate_size;
const tensors = {};
const add = (name, t) => (tensors[name] = t);
const word = normal([config.vocab_size, H], 'word');
word.values.fill(0, 0, H); // padding_idx 0
add('embeddings.word_embeddings.weight', word);
add('embeddings.position_embeddings.weight', normal([config.max_position_embeddings, H], 'position'));
add('embeddings.token_type_embeddings.weight', normal([config.type_vocab_size, H], 'token_type'));
add('embeddings.LayerNorm.weight', filled(H, 1));
add('embeddings.LayerNorm.bias', filled(H, 0));
const dense = (prefix, inputs, outputs) => {
  add(`${prefix}.weight`, normal([outputs, inputs], prefix));
  add(`${prefix}.bias`, filled(outputs, 0));
};
for (let l = 0; l < config.num_hidden_layers; l++) {
  const p = `encoder.layer.${l}`;
  dense(`${p}.attention.self.query`, H, H);
  dense(`${p}.attention.self.key`, H, H);
  dense(`${p}.attention.self.value`, H, H);
  dense(`${p}.attention.output.dense`, H, H);
  add(`${p}.attention.output.LayerNorm.weight`, filled(H, 1));
  add(`${p}.attention.output.LayerNorm.bias`, filled(H, 0));
  dense(`${p}.intermediate.dense`, H, I);
  dense(`${p}.output.dense`, I, H);
  add(`${p}.output.LayerNorm.weight`, filled(H, 1));
  add(`${p}.output.LayerNorm.bias`, filled(H, 0));
}
dense('pooler.dense', H, H);

const dir = join(EMBEDDED_MODELS_DIR, 'local-bert');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
writeFileSync(join(dir, 'tokenizer.json'), `${JSON.stringify(tokenizer, null, 1)}\n`);
writeFileSync(join(dir, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfig, null, 2)}\n`);
writeFileSync(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
writeSafetensors(
  join(dir, 'model.safetensors'),
  Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, floatTensor('F16', t.shape, t.values)])),
  { format: 'pt', note: 'random init (seed 0), see README.md' },
);
console.log(`${dir}: vocab ${vocab.length} (${words.length} words, ${singles.length} characters), ${Object.keys(tensors).length} tensors`);
