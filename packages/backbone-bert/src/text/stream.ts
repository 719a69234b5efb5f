/**
 * `text-domains`: the multi-domain text stream of the paper (WebNLP: one dataset per task).
 * Task t is corpus t of the text dataset (or the corpora named in `domains`, in that order);
 * from each class it takes a seeded random sample of `train_per_class` training and
 * `test_per_class` test texts (as the paper's 2,000 per class), kept in corpus order; labels
 * are the corpus's own 0..k-1; the sampled texts go through the dataset's encoder (the feature
 * step), which computes BERT features only for texts it has not seen.
 */
import { ConfigError, type JsonSchema, type LabeledDataset, type Rng, type Split, type StreamBuilder, type Task, type TaskStream } from '@supermask/core';
import { isTextDataset, type TextDataset, type TextSplit } from './dataset.js';

export interface TextStreamOptions {
  /** Corpora to learn, in order (default: every corpus of the dataset, in its order). */
  domains?: string[];
  /** Training texts per class: a seeded random sample (default: all). */
  train_per_class?: number;
  /** Test texts per class: a seeded random sample (default: all). */
  test_per_class?: number;
}

export const TEXT_STREAM_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    domains: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      minItems: 1,
      uniqueItems: true,
      description: 'Corpora of the text dataset to learn, one task each, in this order (default: all, in dataset order)',
    },
    train_per_class: { type: 'integer', minimum: 1, description: 'Training texts per class: a seeded random sample (default: all)' },
    test_per_class: { type: 'integer', minimum: 1, description: 'Test texts per class: a seeded random sample (default: all)' },
  },
};

/**
 * Indices (ascending) of a seeded random sample of at most `k` examples of each class in
 * `classes` (dataset-wide ids), drawn without replacement; all of a class when it has fewer.
 */
export function samplePerClass(labels: Int32Array, classes: readonly number[], k: number | undefined, rng: Rng): number[] {
  const picked: number[] = [];
  for (const c of classes) {
    const members: number[] = [];
    for (let i = 0; i < labels.length; i++) if (labels[i] === c) members.push(i);
    const cr = rng.child(`class-${c}`);
    if (k === undefined || k >= members.length) {
      picked.push(...members);
      continue;
    }
    for (let i = 0; i < k; i++) {
      const j = i + cr.int(members.length - i);
      const tmp = members[i]!;
      members[i] = members[j]!;
      members[j] = tmp;
    }
    picked.push(...members.slice(0, k));
  }
  return picked.sort((a, b) => a - b);
}

export class TextDomainStream implements StreamBuilder {
  constructor(readonly options: TextStreamOptions) {}

  build(dataset: LabeledDataset, rng: Rng): TaskStream {
    if (!isTextDataset(dataset)) {
      throw new ConfigError('stream "text-domains" needs a text dataset', [
        `dataset.id: "${dataset.name}" is not a text dataset; use one of text-files, webnlp, glue, local-text`,
      ]);
    }
    const order = this.resolveDomains(dataset);
    const tasks: Task[] = order.map((domain, t) => {
      const sampleRng = rng.child(`subset-${t}`);
      return {
        index: t,
        name: `task ${t + 1}: ${domain.name} (${domain.classes.map((c) => dataset.classNames[c]!.slice(domain.name.length + 1)).join(', ')})`,
        classes: [...domain.classes],
        inputShape: [...dataset.inputShape],
        train: this.split(dataset, dataset.train, domain.classes, this.options.train_per_class, sampleRng.child('train')),
        test: this.split(dataset, dataset.test, domain.classes, this.options.test_per_class, sampleRng.child('test')),
      };
    });
    return {
      name: `text-domains ${dataset.name}`,
      inputShape: [...dataset.inputShape],
      numClasses: Math.max(...order.map((d) => d.classes.length)),
      tasks,
    };
  }

  private resolveDomains(dataset: TextDataset): TextDataset['domains'] {
    const wanted = this.options.domains;
    if (!wanted) return dataset.domains;
    const known = dataset.domains.map((d) => d.name);
    const problems: string[] = [];
    const out = wanted.map((name, i) => {
      const d = dataset.domains.find((x) => x.name === name);
      if (!d) problems.push(`stream.options.domains[${i}]: "${name}" is not a corpus of ${dataset.name} (corpora: ${known.join(', ')})`);
      return d!;
    });
    if (problems.length > 0) throw new ConfigError('unknown corpus in the text stream', problems);
    return out;
  }

  private split(dataset: TextDataset, source: TextSplit, classes: readonly number[], k: number | undefined, rng: Rng): Split {
    const indices = samplePerClass(source.y, classes, k, rng);
    const head = new Map(classes.map((c, i) => [c, i]));
    const texts = indices.map((i) => source.texts[i]!);
    const pairs = source.pairs ? indices.map((i) => source.pairs![i]) : undefined;
    const y = Int32Array.from(indices, (i) => head.get(source.y[i]!)!);
    const x = dataset.encoder.encode(texts, pairs);
    return { x, y, n: indices.length };
  }
}
