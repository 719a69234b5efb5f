/**
 * GLUE classification tasks in the layout of the official download (one folder per task with
 * train.tsv and dev.tsv; tab-separated, read without quote processing as GLUE's own processors
 * do). The test files carry no labels, so dev is the test split here. STS-B (regression) is not
 * a classification task and is not offered.
 */
import { join } from 'node:path';
import type { Rng } from '@supermask/core';
import type { ColumnMapping } from './table.js';
import { readTextDomain, type TextDomain } from './dataset.js';
import { findCorpusDir, type TextDataLookup } from './lookup.js';

export interface GlueLayout {
  id: string;
  folder: string;
  /** Whether the TSVs start with a header row. */
  header: boolean;
  columns: ColumnMapping;
  labels: string[];
  classNames: string[];
  /** Dev file (MNLI has two; the matched one is used). */
  dev: string;
}

export const GLUE_LAYOUTS: Record<string, GlueLayout> = {
  sst2: { id: 'sst2', folder: 'SST-2', header: true, columns: { text: 'sentence', label: 'label' }, labels: ['0', '1'], classNames: ['negative', 'positive'], dev: 'dev.tsv' },
  cola: { id: 'cola', folder: 'CoLA', header: false, columns: { text: 3, label: 1 }, labels: ['0', '1'], classNames: ['unacceptable', 'acceptable'], dev: 'dev.tsv' },
  mrpc: {
    id: 'mrpc',
    folder: 'MRPC',
    header: true,
    columns: { text: '#1 String', text_pair: '#2 String', label: 'Quality' },
    labels: ['0', '1'],
    classNames: ['not_equivalent', 'equivalent'],
    dev: 'dev.tsv',
  },
  qqp: {
    id: 'qqp',
    folder: 'QQP',
    header: true,
    columns: { text: 'question1', text_pair: 'question2', label: 'is_duplicate' },
    labels: ['0', '1'],
    classNames: ['not_duplicate', 'duplicate'],
    dev: 'dev.tsv',
  },
  mnli: {
    id: 'mnli',
    folder: 'MNLI',
    header: true,
    columns: { text: 'sentence1', text_pair: 'sentence2', label: 'gold_label' },
    labels: ['contradiction', 'entailment', 'neutral'],
    classNames: ['contradiction', 'entailment', 'neutral'],
    dev: 'dev_matched.tsv',
  },
  qnli: {
    id: 'qnli',
    folder: 'QNLI',
    header: true,
    columns: { text: 'question', text_pair: 'sentence', label: 'label' },
    labels: ['entailment', 'not_entailment'],
    classNames: ['entailment', 'not_entailment'],
    dev: 'dev.tsv',
  },
  rte: {
    id: 'rte',
    folder: 'RTE',
    header: true,
    columns: { text: 'sentence1', text_pair: 'sentence2', label: 'label' },
    labels: ['entailment', 'not_entailment'],
    classNames: ['entailment', 'not_entailment'],
    dev: 'dev.tsv',
  },
  wnli: {
    id: 'wnli',
    folder: 'WNLI',
    header: true,
    columns: { text: 'sentence1', text_pair: 'sentence2', label: 'label' },
    labels: ['0', '1'],
    classNames: ['not_entailment', 'entailment'],
    dev: 'dev.tsv',
  },
};

export const GLUE_IDS = Object.keys(GLUE_LAYOUTS);

export const GLUE_HOW_TO_GET = [
  'the GLUE data as produced by the benchmark\'s download script (download_glue_data.py): one folder per task (SST-2, CoLA, MRPC, QQP, MNLI, QNLI, RTE, WNLI) with train.tsv and dev.tsv;',
  'put those folders into a directory DIR (DIR/SST-2/train.tsv, ... or DIR/glue/SST-2/train.tsv) and pass --data-dir DIR or set SUPERMASK_DATA=DIR',
];

/** Reads one GLUE task: train.tsv as training split, the dev file as test split. */
export function readGlueTask(id: string, lookup: TextDataLookup, sampling: { perClass?: number; rng?: Rng } = {}): TextDomain {
  const layout = GLUE_LAYOUTS[id];
  if (!layout) throw new Error(`unknown GLUE task "${id}" (known: ${GLUE_IDS.join(', ')})`);
  const dir = findCorpusDir(`GLUE ${layout.folder}`, [layout.folder, join('glue', layout.folder), join('glue_data', layout.folder)], ['train.tsv', layout.dev], lookup, GLUE_HOW_TO_GET);
  // MNLI marks examples without a gold label with "-": skip them; rows with missing fields are
  // skipped too (as GLUE's reference processors do for a few QQP lines).
  const domain = readTextDomain(
    id,
    { train: join(dir, 'train.tsv'), test: join(dir, layout.dev) },
    { format: 'tsv', header: layout.header, columns: layout.columns, skip_short_rows: true },
    { labels: layout.labels, class_names: layout.classNames },
    { ...sampling, skipLabels: ['-'] },
  );
  return { ...domain, source: dir };
}
