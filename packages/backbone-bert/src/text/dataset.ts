/**
 * Text corpora in the shape the runner expects. A text dataset is a `LabeledDataset` whose
 * examples are texts: its `domains` say which classes each corpus (AG News, Yelp, spam, ...)
 * covers, its `encoder` turns texts into network inputs (the feature step), and its `inputShape`
 * is the encoder's output shape. The `text-domains` stream samples per class first and encodes
 * only what it keeps; any other stream (e.g. `split` over one corpus) reads `train.x`/`test.x`,
 * which encode every text on first access.
 */
import { DataError, type LabeledDataset, type Rng, type Split } from '@supermask/core';
import type { BertTextEncoder } from '../encoder.js';
import { readTable, type TableReadOptions, type TableRow } from './table.js';

/** Texts of one split of a corpus, labels 0..classes-1 of the corpus. */
export interface TextExamples {
  texts: string[];
  /** Second texts of sentence pairs (GLUE); absent for single texts. */
  pairs?: (string | undefined)[];
  labels: Int32Array;
}

/** One corpus (a domain, a task of the text stream). */
export interface TextDomain {
  name: string;
  classNames: string[];
  train: TextExamples;
  test: TextExamples;
  /** Where it came from (directory, file or "embedded"). */
  source: string;
}

/** A split of a text dataset: texts and labels; `x` encodes every text on first access. */
export interface TextSplit extends Split {
  texts: string[];
  pairs?: (string | undefined)[];
}

export interface TextDataset extends LabeledDataset {
  kind: 'text';
  /** Each corpus with the dataset-wide class ids it covers. */
  domains: { name: string; classes: number[]; source: string }[];
  encoder: BertTextEncoder;
  train: TextSplit;
  test: TextSplit;
}

export function isTextDataset(dataset: LabeledDataset): dataset is TextDataset {
  return (dataset as Partial<TextDataset>).kind === 'text' && Array.isArray((dataset as Partial<TextDataset>).domains);
}

function textSplit(examples: TextExamples[], offsets: number[], encoder: BertTextEncoder): TextSplit {
  const texts = examples.flatMap((e) => e.texts);
  const hasPairs = examples.some((e) => e.pairs !== undefined);
  const pairs = hasPairs ? examples.flatMap((e) => e.pairs ?? e.texts.map(() => undefined)) : undefined;
  const y = new Int32Array(texts.length);
  let at = 0;
  examples.forEach((e, d) => {
    for (let i = 0; i < e.labels.length; i++) y[at++] = e.labels[i]! + offsets[d]!;
  });
  let x: Float32Array | undefined;
  const split = { texts, ...(pairs ? { pairs } : {}), y, n: texts.length } as TextSplit;
  Object.defineProperty(split, 'x', {
    enumerable: true,
    get: () => (x ??= encoder.encode(texts, pairs)),
  });
  return split;
}

/** Joins corpora into one text dataset: class ids of domain d start after those of domains 0..d-1. */
export function buildTextDataset(name: string, domains: TextDomain[], encoder: BertTextEncoder): TextDataset {
  if (domains.length === 0) throw new DataError(`text dataset ${name} has no corpus`);
  const offsets: number[] = [];
  let total = 0;
  for (const d of domains) {
    offsets.push(total);
    total += d.classNames.length;
  }
  return {
    kind: 'text',
    name,
    inputShape: encoder.outputShape,
    numClasses: total,
    classNames: domains.flatMap((d) => d.classNames.map((c) => `${d.name}/${c}`)),
    train: textSplit(domains.map((d) => d.train), offsets, encoder),
    test: textSplit(domains.map((d) => d.test), offsets, encoder),
    normalization: { mean: [0], std: [1] },
    source: [...new Set(domains.map((d) => d.source))].join(', '),
    domains: domains.map((d, i) => ({ name: d.name, classes: d.classNames.map((_, c) => offsets[i]! + c), source: d.source })),
    encoder,
  };
}

/**
 * Keeps at most `k` examples of each label while reading (reservoir sampling, seeded): a memory
 * guard for corpora of millions of rows. `k` undefined keeps everything.
 */
export class PerClassReservoir {
  private readonly kept = new Map<string, TableRow[]>();
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly k: number | undefined,
    private readonly rng: Rng,
  ) {}

  add(row: TableRow): void {
    let rows = this.kept.get(row.label);
    if (!rows) {
      rows = [];
      this.kept.set(row.label, rows);
    }
    const seen = (this.seen.get(row.label) ?? 0) + 1;
    this.seen.set(row.label, seen);
    if (this.k === undefined || rows.length < this.k) rows.push(row);
    else {
      const j = this.rng.int(seen);
      if (j < this.k) rows[j] = row;
    }
  }

  /** Kept rows, grouped by label in first-seen order. */
  rows(): TableRow[] {
    return [...this.kept.values()].flat();
  }
}

/** How the labels of a file map to class indices. */
export interface LabelSpec {
  /** Label values in class order (e.g. ["1", "2", "3", "4"]); default: the distinct labels of the training file, sorted (numerically when all are numbers). */
  labels?: string[];
  /** Display names of the classes, in class order (default: the label values). */
  class_names?: string[];
}

/** The distinct labels of `rows`, sorted (numerically when all are numbers). */
export function distinctLabels(rows: readonly TableRow[]): string[] {
  const labels = [...new Set(rows.map((r) => r.label))];
  const numeric = labels.every((l) => l !== '' && Number.isFinite(Number(l)));
  return numeric ? labels.sort((a, b) => Number(a) - Number(b)) : labels.sort();
}

/** Rows as `TextExamples` with class indices; unknown labels are an error naming the file. */
export function toExamples(rows: readonly TableRow[], labels: readonly string[], file: string): TextExamples {
  const index = new Map(labels.map((l, i) => [l, i]));
  const y = new Int32Array(rows.length);
  const pairs = rows.some((r) => r.pair !== undefined) ? rows.map((r) => r.pair) : undefined;
  rows.forEach((r, i) => {
    const c = index.get(r.label);
    if (c === undefined) throw new DataError(`${file}: label ${JSON.stringify(r.label)} is not one of the classes (${labels.map((l) => JSON.stringify(l)).join(', ')})`, file);
    y[i] = c;
  });
  return { texts: rows.map((r) => r.text), ...(pairs ? { pairs } : {}), labels: y };
}

/** Reads one corpus from a training and a test file with a column mapping. */
export function readTextDomain(
  name: string,
  files: { train: string; test: string },
  table: TableReadOptions,
  labelSpec: LabelSpec = {},
  sampling: { perClass?: number; rng?: Rng; skipLabels?: readonly string[] } = {},
): TextDomain {
  const read = (file: string, which: string): TableRow[] => {
    const skip = new Set(sampling.skipLabels ?? []);
    if (sampling.perClass === undefined || !sampling.rng) return readTable(file, table).filter((r) => !skip.has(r.label));
    const reservoir = new PerClassReservoir(sampling.perClass, sampling.rng.child(`${name}/${which}`));
    readTable(file, table, (row) => {
      if (!skip.has(row.label)) reservoir.add(row);
    });
    return reservoir.rows();
  };
  const trainRows = read(files.train, 'train');
  const testRows = read(files.test, 'test');
  if (trainRows.length === 0) throw new DataError(`${files.train} holds no examples`, files.train);
  const labels = labelSpec.labels ?? distinctLabels(trainRows);
  const classNames = labelSpec.class_names ?? labels;
  if (classNames.length !== labels.length) throw new DataError(`${name}: ${classNames.length} class names for ${labels.length} labels`);
  return {
    name,
    classNames: [...classNames],
    train: toExamples(trainRows, labels, files.train),
    test: toExamples(testRows, labels, files.test),
    source: files.train,
  };
}
