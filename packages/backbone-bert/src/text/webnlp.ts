/**
 * The WebNLP corpora of the paper (the text classification CSVs of Zhang, Zhao & LeCun 2015, as
 * distributed in `<name>_csv` folders with `train.csv`, `test.csv` and for some `classes.txt`):
 * no header row, the class as a 1-based number in the first column, then the text fields, each
 * quoted, with newlines written as the two characters backslash-n.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Rng } from '@supermask/core';
import { readTextDomain, type TextDomain } from './dataset.js';
import { findCorpusDir, type TextDataLookup } from './lookup.js';

export interface WebNlpLayout {
  id: string;
  title: string;
  /** Folder name as distributed. */
  folder: string;
  /** 0-based columns of the text fields, joined with a space. */
  textColumns: number[];
  classNames: string[];
}

/** The five WebNLP corpora: columns and classes as in the distributed CSVs. */
export const WEBNLP_LAYOUTS: Record<string, WebNlpLayout> = {
  ag_news: {
    id: 'ag_news',
    title: 'AG News',
    folder: 'ag_news_csv',
    textColumns: [1, 2],
    classNames: ['World', 'Sports', 'Business', 'Sci/Tech'],
  },
  yelp: {
    id: 'yelp',
    title: 'Yelp reviews (full, 5 classes)',
    folder: 'yelp_review_full_csv',
    textColumns: [1],
    classNames: ['1 star', '2 stars', '3 stars', '4 stars', '5 stars'],
  },
  amazon: {
    id: 'amazon',
    title: 'Amazon reviews (full, 5 classes)',
    folder: 'amazon_review_full_csv',
    textColumns: [1, 2],
    classNames: ['1 star', '2 stars', '3 stars', '4 stars', '5 stars'],
  },
  yahoo: {
    id: 'yahoo',
    title: 'Yahoo! Answers',
    folder: 'yahoo_answers_csv',
    textColumns: [1, 2, 3],
    classNames: [
      'Society & Culture',
      'Science & Mathematics',
      'Health',
      'Education & Reference',
      'Computers & Internet',
      'Sports',
      'Business & Finance',
      'Entertainment & Music',
      'Family & Relationships',
      'Politics & Government',
    ],
  },
  dbpedia: {
    id: 'dbpedia',
    title: 'DBpedia ontology',
    folder: 'dbpedia_csv',
    textColumns: [1, 2],
    classNames: [
      'Company',
      'EducationalInstitution',
      'Artist',
      'Athlete',
      'OfficeHolder',
      'MeanOfTransportation',
      'Building',
      'NaturalPlace',
      'Village',
      'Animal',
      'Plant',
      'Album',
      'Film',
      'WrittenWork',
    ],
  },
};

export const WEBNLP_IDS = Object.keys(WEBNLP_LAYOUTS);

/** Default order of the WebNLP sequence (configurable with the dataset's `domains`). */
export const WEBNLP_DEFAULT_ORDER = ['ag_news', 'yelp', 'amazon', 'yahoo', 'dbpedia'];

export const WEBNLP_HOW_TO_GET = [
  'the CSV archives published with Zhang, Zhao & LeCun (2015), "Character-level convolutional networks for text classification":',
  'ag_news_csv.tar.gz, yelp_review_full_csv.tar.gz, amazon_review_full_csv.tar.gz, yahoo_answers_csv.tar.gz, dbpedia_csv.tar.gz',
  '(any copy in the same layout works: no header, class number first, quoted text fields);',
  'extract each archive into one directory DIR (DIR/ag_news_csv/train.csv, DIR/ag_news_csv/test.csv, ...) and pass --data-dir DIR or set SUPERMASK_DATA=DIR'
];

/** Reads one WebNLP corpus (train.csv and test.csv of its folder). */
export function readWebNlpCorpus(id: string, lookup: TextDataLookup, sampling: { perClass?: number; rng?: Rng } = {}): TextDomain {
  const layout = WEBNLP_LAYOUTS[id];
  if (!layout) throw new Error(`unknown WebNLP corpus "${id}" (known: ${WEBNLP_IDS.join(', ')})`);
  const dir = findCorpusDir(`${layout.title} (${layout.folder})`, [layout.folder, join('webnlp', layout.folder)], ['train.csv', 'test.csv'], lookup, WEBNLP_HOW_TO_GET);
  let classNames = layout.classNames;
  const classesFile = join(dir, 'classes.txt');
  if (existsSync(classesFile)) {
    const names = readFileSync(classesFile, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    if (names.length === layout.classNames.length) classNames = names;
  }
  const domain = readTextDomain(
    id,
    { train: join(dir, 'train.csv'), test: join(dir, 'test.csv') },
    { format: 'csv', header: false, columns: { text: layout.textColumns, label: 0 }, unescape_newlines: true },
    { labels: classNames.map((_, i) => String(i + 1)), class_names: classNames },
    sampling,
  );
  return { ...domain, source: dir };
}
