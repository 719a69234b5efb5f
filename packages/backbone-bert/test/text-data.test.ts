import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DataError, Rng, selectBackend } from '@supermask/core';
import {
  BertTextEncoder,
  buildTextDataset,
  parseFortunes,
  readEmbedded,
  readGlueTask,
  readLocalText,
  readTable,
  readTextDomain,
  readWebNlpCorpus,
  samplePerClass,
  sotuChunks,
  spamText,
  TextDomainStream,
  type TextDomain,
} from '@supermask/backbone-bert';
import { SplitStream } from '@supermask/datasets';
import { testRegistry } from '../../cli/test/helpers.js';

const TINY = new URL('./fixtures/tiny-bert', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'text-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(path: string, content: string): string {
  const file = join(dir, path);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, content);
  return file;
}

describe('CSV, TSV and JSONL readers with column mapping', () => {
  it('reads RFC 4180 CSV: quotes, doubled quotes, delimiters and newlines inside quotes, CRLF, a BOM', () => {
    const file = write('quotes.csv', '\ufefflabel,title,body\r\n1,"Hello, world","He said ""hi""\nthen left"\r\n2,plain,text with \\n escaped\r\n\r\n');
    const rows = readTable(file, { columns: { text: ['title', 'body'], label: 'label' }, unescape_newlines: true });
    expect(rows).toEqual([
      { text: 'Hello, world He said "hi" then left', label: '1' },
      { text: 'plain text with escaped', label: '2' },
    ]);
    expect(() => readTable(file, { columns: { text: 'nope', label: 'label' } })).toThrow(/no column "nope" in the header \(columns: label, title, body\)/);
    const open = write('open.csv', '1,"never closed\n');
    expect(() => readTable(open, { columns: { text: 1, label: 0 } })).toThrow(/quoted field opened on line 1 is never closed/);
  });

  it('reads TSV without quote processing and JSONL with nested keys', () => {
    const tsv = write('plain.tsv', 'sentence\tlabel\nit\'s "quoted" as is\t1\n');
    expect(readTable(tsv, { columns: { text: 'sentence', label: 'label' } })).toEqual([{ text: 'it\'s "quoted" as is', label: '1' }]);
    const jsonl = write('rows.jsonl', '{"review":{"title":"Great","body":"works"},"stars":5}\n\n{"review":{"title":"Bad","body":"broke"},"stars":1}\n');
    expect(readTable(jsonl, { columns: { text: ['review.title', 'review.body'], label: 'stars' } })).toEqual([
      { text: 'Great works', label: '5' },
      { text: 'Bad broke', label: '1' },
    ]);
    const bad = write('bad.jsonl', '{"text":"a","label":1}\n{"text":\n');
    expect(() => readTable(bad, { columns: { text: 'text', label: 'label' } })).toThrow(/bad\.jsonl, line 2: not valid JSON/);
    const missing = write('missing.jsonl', '{"text":"a"}\n');
    expect(() => readTable(missing, { columns: { text: 'text', label: 'label' } })).toThrow(/line 1: no field "label"/);
  });

  it('maps labels to classes (explicit order or sorted distinct values) and names unknown labels', () => {
    const train = write('d/train.jsonl', ['{"t":"a","y":"pos"}', '{"t":"b","y":"neg"}', '{"t":"c","y":"pos"}'].join('\n'));
    const test = write('d/test.jsonl', '{"t":"d","y":"neg"}\n');
    const domain = readTextDomain('d', { train, test }, { columns: { text: 't', label: 'y' } });
    expect(domain.classNames).toEqual(['neg', 'pos']);
    expect(Array.from(domain.train.labels)).toEqual([1, 0, 1]);
    const odd = write('d/odd.jsonl', '{"t":"e","y":"meh"}\n');
    expect(() => readTextDomain('d', { train, test: odd }, { columns: { text: 't', label: 'y' } })).toThrow(/odd\.jsonl: label "meh" is not one of the classes/);
  });
});

describe('WebNLP and GLUE layouts', () => {
  it('reads the Zhang et al. CSVs (AG News with classes.txt, Yahoo with three text fields) from --data-dir', () => {
    write('web/ag_news_csv/train.csv', '"3","Wall St. Bears Claw Back","Reuters - Short-sellers, Wall Street\'s dwindling\\band of ultra-cynics."\n"2","Sox win","Boston beat NY, 4-3."\n"1","Summit","Leaders met.\\nTalks go on."\n"4","New chip","Faster, ""cooler"" chips."\n');
    write('web/ag_news_csv/test.csv', '"1","Election","Votes counted."\n"2","Cup final","Goal!"\n');
    write('web/ag_news_csv/classes.txt', 'World\nSports\nBusiness\nSci/Tech\n');
    const ag = readWebNlpCorpus('ag_news', { dataDir: join(dir, 'web') });
    expect(ag.classNames).toEqual(['World', 'Sports', 'Business', 'Sci/Tech']);
    expect(ag.train.texts[0]).toBe("Wall St. Bears Claw Back Reuters - Short-sellers, Wall Street's dwindling\\band of ultra-cynics.");
    expect(ag.train.texts[2]).toBe('Summit Leaders met. Talks go on.');
    expect(ag.train.texts[3]).toBe('New chip Faster, "cooler" chips.');
    expect(Array.from(ag.train.labels)).toEqual([2, 1, 0, 3]);
    expect(Array.from(ag.test.labels)).toEqual([0, 1]);
    write('web/yahoo_answers_csv/train.csv', '"5","Why is my PC slow?","It freezes.","Add RAM."\n"6","Who won?","","The home team."\n');
    write('web/yahoo_answers_csv/test.csv', '"10","Vote?","When","Tuesday."\n');
    const yahoo = readWebNlpCorpus('yahoo', { env: { SUPERMASK_DATA: join(dir, 'web') } });
    expect(yahoo.train.texts).toEqual(['Why is my PC slow? It freezes. Add RAM.', 'Who won? The home team.']);
    expect(Array.from(yahoo.test.labels)).toEqual([9]);
    expect(yahoo.classNames).toHaveLength(10);
    // A missing corpus lists the places searched and how to get it.
    expect(() => readWebNlpCorpus('dbpedia', { dataDir: join(dir, 'web'), env: {} })).toThrow(/DBpedia ontology \(dbpedia_csv\) not found[\s\S]*dbpedia_csv\.tar\.gz/);
  });

  it('reads GLUE TSVs: SST-2 with a header, CoLA without, MRPC sentence pairs; dev is the test split', () => {
    write('glue/SST-2/train.tsv', 'sentence\tlabel\na gripping film \t1\ndull and flat \t0\n');
    write('glue/SST-2/dev.tsv', 'sentence\tlabel\nit \'s a charming journey . \t1\n');
    const sst = readGlueTask('sst2', { dataDir: join(dir, 'glue') });
    expect(sst.classNames).toEqual(['negative', 'positive']);
    expect(sst.train.texts).toEqual(['a gripping film', 'dull and flat']);
    expect(Array.from(sst.train.labels)).toEqual([1, 0]);
    expect(sst.test.texts).toEqual(["it 's a charming journey ."]);
    write('glue/CoLA/train.tsv', 'gj04\t1\t\tOur friends won\'t buy this analysis.\ngj04\t0\t*\tThey drank the pub.\n');
    write('glue/CoLA/dev.tsv', 'gj04\t1\t\tThe sailors rode the breeze.\n');
    const cola = readGlueTask('cola', { dataDir: join(dir, 'glue') });
    expect(cola.train.texts[1]).toBe('They drank the pub.');
    expect(Array.from(cola.train.labels)).toEqual([1, 0]);
    write('glue/MRPC/train.tsv', '\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tHe said yes.\tHe agreed.\n0\t3\t4\tIt rained.\tThe sun shone.\n');
    write('glue/MRPC/dev.tsv', 'Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t5\t6\tA cat.\tA feline.\n');
    const mrpc = readGlueTask('mrpc', { dataDir: join(dir, 'glue') });
    expect(mrpc.train.texts).toEqual(['He said yes.', 'It rained.']);
    expect(mrpc.train.pairs).toEqual(['He agreed.', 'The sun shone.']);
    expect(Array.from(mrpc.train.labels)).toEqual([1, 0]);
    // A row with missing fields is skipped, as GLUE's processors do.
    write('glue/QQP/train.tsv', 'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t1\t2\tHow?\tWhy?\t0\n2\t3\t4\tbroken row\n3\t5\t6\tWho?\tWho is?\t1\n');
    write('glue/QQP/dev.tsv', 'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n4\t7\t8\tA?\tB?\t0\n');
    expect(readGlueTask('qqp', { dataDir: join(dir, 'glue') }).train.pairs).toEqual(['Why?', 'Who is?']);
  });

  it('keeps at most read_per_class texts per class while reading (seeded reservoir)', () => {
    const lines = Array.from({ length: 60 }, (_, i) => `"${(i % 3) + 1}","t${i}","b${i}"`).join('\n');
    write('res/ag_news_csv/train.csv', lines);
    write('res/ag_news_csv/test.csv', lines);
    const a = readWebNlpCorpus('ag_news', { dataDir: join(dir, 'res') }, { perClass: 5, rng: new Rng(1) });
    const b = readWebNlpCorpus('ag_news', { dataDir: join(dir, 'res') }, { perClass: 5, rng: new Rng(1) });
    const c = readWebNlpCorpus('ag_news', { dataDir: join(dir, 'res') }, { perClass: 5, rng: new Rng(2) });
    expect(a.train.texts).toHaveLength(15);
    expect(a.train.texts).toEqual(b.train.texts);
    expect(a.train.texts).not.toEqual(c.train.texts);
    for (let k = 0; k < 3; k++) expect(Array.from(a.train.labels).filter((l) => l === k)).toHaveLength(5);
  });
});

describe('local corpora', () => {
  it('parses fortunes, State of the Union chunks and e-mails', () => {
    expect(parseFortunes('First quote\n\t-- someone\n%\nSecond\nquote\n%\n')).toEqual(['First quote -- someone', 'Second quote']);
    const chunks = sotuChunks('One two three four five. Six seven eight nine ten! Eleven twelve? Thirteen fourteen fifteen sixteen seventeen eighteen. Nineteen.');
    expect(chunks).toEqual(['One two three four five. Six seven eight nine ten! Eleven twelve?']);
    expect(spamText('From: a@b\nSubject: Cheap  pills\n\n<html><b>Buy=\n now</b> &amp; save=3D!</html>')).toBe('Cheap pills Buy now & save=!');
  });

  it('reads the embedded subset: three corpora, both splits of every class', () => {
    const domains = readLocalText({ source: 'embedded', domains: ['spam', 'sotu', 'fortunes'], sotu_label: 'era', fortune_topics: ['computers', 'food', 'law', 'sports'], max_chars: 300 }, {});
    expect(domains.map((d) => d.name)).toEqual(['spam', 'sotu', 'fortunes']);
    expect(domains.map((d) => d.classNames.length)).toEqual([2, 4, 4]);
    expect(domains[0]!.train.texts).toHaveLength(300);
    expect(domains[2]!.test.texts).toHaveLength(120);
    expect(Math.max(...domains.flatMap((d) => d.train.texts.map((t) => t.length)))).toBeLessThanOrEqual(300);
    const party = readLocalText({ source: 'embedded', domains: ['sotu'], sotu_label: 'party', fortune_topics: [], max_chars: 300 }, {});
    expect(party[0]!.classNames).toEqual(['democratic', 'republican']);
    expect(readEmbedded('sotu').every((r) => typeof r.year === 'number')).toBe(true);
    expect(() => readLocalText({ source: 'embedded', domains: ['fortunes'], sotu_label: 'era', fortune_topics: ['art', 'food'], max_chars: 300 }, {})).toThrow(ConfigError);
  });

  it('a missing full corpus lists the places searched and how to get it', () => {
    const run = () => readLocalText({ source: 'full', domains: ['sotu'], sotu_label: 'era', fortune_topics: [], max_chars: 300 }, { dataDir: join(dir, 'empty'), env: {} });
    expect(run).toThrow(DataError);
    expect(run).toThrow(/local text corpus "sotu" not found[\s\S]*empty\/sotu[\s\S]*YEAR_president_PARTY\.txt/);
  });
});

describe('component options', () => {
  it('fill the encoder defaults even when the encoder is left out', () => {
    const registry = testRegistry();
    const local = registry.resolveOptions('dataset', { id: 'local-text' }, 'dataset') as { encoder: Record<string, unknown>; sotu_label: string };
    expect(local.encoder).toEqual({ model: 'local-bert', max_length: 64, output: 'features', batch_size: 16, cache_dir: null, memory_cache_mb: 1024 });
    expect(local.sotu_label).toBe('era');
    const web = registry.resolveOptions('dataset', { id: 'webnlp' }, 'dataset') as { encoder: { model: string }; domains: string[] };
    expect(web.encoder.model).toBe('bert-base-uncased');
    expect(web.domains).toEqual(['ag_news', 'yelp', 'amazon', 'yahoo', 'dbpedia']);
    expect(() => registry.resolveOptions('dataset', { id: 'text-files', options: { domains: [{ name: 'a', train: 'a.csv', test: 'b.csv', columns: { text: 1.5, label: 0 } }] } }, 'dataset')).toThrow(/dataset\.options\.domains\[0\]\.columns\.text/);
    const bert = registry.resolveOptions('backbone', { id: 'bert' }, 'backbone') as { masked_layers: string[]; head: string };
    expect(bert.masked_layers).toEqual(['query', 'key', 'value', 'attention_output', 'intermediate', 'output']);
    expect(bert.head).toBe('linear');
  });
});

describe('text-domains stream', () => {
  let encoder: BertTextEncoder;
  beforeAll(async () => {
    await selectBackend('cpu');
    encoder = await BertTextEncoder.load({ model: TINY, max_length: 8, output: 'tokens' });
  });

  const domain = (name: string, classes: number, perClass: number): TextDomain => {
    const make = (n: number) => {
      const labels = Int32Array.from({ length: n * classes }, (_, i) => i % classes);
      // Words of the tiny-bert vocabulary, so different texts have different token ids.
      const words = ['fox', 'dog', 'spam', 'tasks', 'masks', 'runner', 'message', 'weights', 'filters', 'time'];
      return { texts: Array.from(labels, (l, i) => `${words[l % 10]} ${words[i % 10]} ${words[Math.floor(i / 10) % 10]}`), labels };
    };
    return { name, classNames: Array.from({ length: classes }, (_, c) => `c${c}`), train: make(perClass), test: make(perClass / 2), source: 'generated' };
  };

  it('samples per class, seeded: same seed same texts, another seed others; one task per corpus', () => {
    expect(samplePerClass(Int32Array.from([0, 1, 0, 1, 0, 1]), [0, 1], 2, new Rng(3))).toHaveLength(4);
    const dataset = buildTextDataset('toy', [domain('news', 4, 20), domain('reviews', 2, 30)], encoder);
    const stream = new TextDomainStream({ train_per_class: 5, test_per_class: 3 });
    const a = stream.build(dataset, new Rng(7));
    const b = stream.build(dataset, new Rng(7));
    const c = stream.build(dataset, new Rng(8));
    expect(a.tasks.map((t) => t.name)).toEqual(['task 1: news (c0, c1, c2, c3)', 'task 2: reviews (c0, c1)']);
    expect(a.numClasses).toBe(4);
    expect(a.inputShape).toEqual([3, 8]);
    expect(a.tasks.map((t) => [t.train.n, t.test.n])).toEqual([[20, 12], [10, 6]]);
    for (const t of a.tasks) for (let k = 0; k < t.classes.length; k++) expect(Array.from(t.train.y).filter((y) => y === k)).toHaveLength(5);
    expect(a.tasks[1]!.classes).toEqual([4, 5]);
    expect(Array.from(a.tasks[0]!.train.x)).toEqual(Array.from(b.tasks[0]!.train.x));
    expect(Array.from(a.tasks[0]!.train.x)).not.toEqual(Array.from(c.tasks[0]!.train.x));
    // Order and subset of corpora; an unknown one is named.
    expect(new TextDomainStream({ domains: ['reviews'] }).build(dataset, new Rng(1)).tasks.map((t) => t.train.n)).toEqual([60]);
    expect(() => new TextDomainStream({ domains: ['sports'] }).build(dataset, new Rng(1))).toThrow(/domains\[0\]: "sports" is not a corpus of toy \(corpora: news, reviews\)/);
  });

  it('the dataset-wide x of a text dataset encodes every text on first access, so generic streams work too', () => {
    const dataset = buildTextDataset('toy', [domain('news', 2, 2)], encoder);
    expect(dataset.classNames).toEqual(['news/c0', 'news/c1']);
    expect(dataset.train.x.length).toBe(4 * 3 * 8);
    const split = new SplitStream({ tasks: 1, classes_per_task: 2 }).build(buildTextDataset('toy', [domain('news', 4, 2)], encoder), new Rng(0));
    expect(split.tasks[0]!.train.n).toBe(4);
    expect(split.inputShape).toEqual([3, 8]);
  });
});
