import { isAbsolute, join } from 'node:path';
import { ConfigError } from './errors.js';
import type { EpochInfo, EvalInfo, Observer, RunView } from './observer.js';
import type { Registry } from './registry.js';
import { TensorBoardWriter } from './tensorboard.js';

/*
 * Loggers as observers (Node entry only: they write files or talk to a service). Both log the
 * same scalars, named the same way (`scalarsOfEpoch`, `scalarsOfEvaluation`), as metrics.csv
 * holds them.
 */

export interface Scalar {
  tag: string;
  value: number;
  step: number;
}

/** Per epoch: `task<t>/<phase>/{loss,train_accuracy,test_accuracy,lr,samples_per_second}` at step = epoch (1-based). */
export function scalarsOfEpoch(info: EpochInfo): Scalar[] {
  const prefix = `task${info.task.index + 1}/${info.phase.name}`;
  const step = info.epoch + 1;
  const values: [string, number | undefined][] = [
    ['loss', info.loss],
    ['train_accuracy', info.trainAccuracy],
    ['test_accuracy', info.testAccuracy],
    ['lr', info.lr],
    ['samples_per_second', info.samplesPerSecond],
  ];
  return values.filter((v): v is [string, number] => v[1] !== undefined).map(([name, value]) => ({ tag: `${prefix}/${name}`, value, step }));
}

/** Per evaluation after task k: `accuracy/task<j>` (the accuracy-matrix row) and `average_accuracy`, at step = k (1-based). */
export function scalarsOfEvaluation(info: EvalInfo): Scalar[] {
  const step = info.afterTask + 1;
  const average = info.accuracies.reduce((a, b) => a + b, 0) / info.accuracies.length;
  return [...info.accuracies.map((value, j) => ({ tag: `accuracy/task${j + 1}`, value, step })), { tag: 'average_accuracy', value: average, step }];
}

export const TENSORBOARD_DIR = 'tensorboard';

/**
 * `tensorboard`: TensorBoard event files (`tensorboard --logdir <run dir>/tensorboard`), one
 * file per process (a resumed run adds one), scalars written through as they come.
 */
export class TensorBoardObserver implements Observer {
  readonly id = 'tensorboard';
  private writer: TensorBoardWriter | undefined;

  constructor(private readonly options: { directory: string }) {}

  beforeExperiment(_info: unknown, run: RunView): void {
    const dir = this.options.directory;
    if (!isAbsolute(dir) && !run.outDir) return; // no run directory: nothing to write into
    this.writer = new TensorBoardWriter(isAbsolute(dir) ? dir : join(run.outDir!, dir));
  }

  afterEpoch(info: EpochInfo): void {
    this.write(scalarsOfEpoch(info));
  }

  afterEval(info: EvalInfo): void {
    this.write(scalarsOfEvaluation(info));
  }

  afterExperiment(): void {
    this.writer?.close();
    this.writer = undefined;
  }

  /** The event file being written, if any. */
  get file(): string | undefined {
    return this.writer?.file;
  }

  private write(scalars: Scalar[]): void {
    for (const s of scalars) this.writer?.scalar(s.tag, s.value, s.step);
  }
}

/** The part of `@wandb/sdk` (default export) the observer uses. */
export interface WandbSdk {
  init(options: { project?: string; entity?: string; name?: string; config?: unknown; tags?: string[] }): Promise<unknown>;
  log(data: Record<string, unknown>): void;
  finish(): Promise<void>;
}

export interface WandbOptions {
  project: string;
  entity?: string;
  tags?: string[];
}

export const WANDB_PACKAGE = '@wandb/sdk';

async function importWandb(): Promise<WandbSdk> {
  const specifier = WANDB_PACKAGE; // a variable: the package is an optional peer, absent at build time
  try {
    return ((await import(specifier)) as { default: WandbSdk }).default;
  } catch (error) {
    // Node: ERR_MODULE_NOT_FOUND "Cannot find package '@wandb/sdk'"; bundlers and vitest word it
    // their own way. The package itself, not one of its dependencies, must be what is missing.
    const message = error instanceof Error ? error.message : String(error);
    const notFound = /cannot find|could not resolve|failed to (load|resolve)/i.test(message) || /MODULE_NOT_FOUND/.test(String((error as { code?: string }).code));
    if (notFound && (message.includes(`'${specifier}'`) || message.includes(`"${specifier}"`))) {
      throw new ConfigError(`observers: the wandb observer needs the optional peer dependency ${WANDB_PACKAGE}; install it with \`npm install ${WANDB_PACKAGE}\` (and log in with WANDB_API_KEY)`);
    }
    throw error;
  }
}

/**
 * `wandb`: Weights & Biases through `@wandb/sdk` (an optional peer dependency, loaded when a run
 * starts; it talks to the W&B service, so it is the one observer that uses the network). The run
 * is named by the run id and carries the resolved config; each epoch and evaluation is one
 * `log` call with the scalars TensorBoard gets.
 */
export class WandbObserver implements Observer {
  readonly id = 'wandb';
  private sdk: WandbSdk | undefined;

  constructor(
    private readonly options: WandbOptions,
    private readonly load: () => Promise<WandbSdk> = importWandb,
  ) {}

  async beforeExperiment(_info: unknown, run: RunView): Promise<void> {
    const sdk = await this.load();
    const { project, entity, tags } = this.options;
    await sdk.init({ project, name: run.runId, config: run.config, ...(entity ? { entity } : {}), ...(tags ? { tags } : {}) });
    this.sdk = sdk;
  }

  afterEpoch(info: EpochInfo): void {
    this.log(scalarsOfEpoch(info), { task: info.task.index + 1, epoch: info.epoch + 1 });
  }

  afterEval(info: EvalInfo): void {
    this.log(scalarsOfEvaluation(info), { task: info.afterTask + 1 });
  }

  async afterExperiment(): Promise<void> {
    const sdk = this.sdk;
    this.sdk = undefined;
    await sdk?.finish();
  }

  private log(scalars: Scalar[], extra: Record<string, number>): void {
    this.sdk?.log({ ...Object.fromEntries(scalars.map((s) => [s.tag, s.value])), ...extra });
  }
}

/** Registers the Node-only logger observers (`tensorboard`, `wandb`); the CLI's registry has them. */
export function registerLoggerObservers(registry: Registry): void {
  registry.register({
    kind: 'observer',
    id: 'tensorboard',
    package: '@supermask/core',
    description: 'TensorBoard event files: loss, accuracies and lr per epoch, the accuracy matrix per evaluation (Node)',
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: { directory: { type: 'string', minLength: 1, default: TENSORBOARD_DIR, description: 'directory of the event files; relative paths are inside the run directory' } },
    },
    create: (options: { directory: string }) => new TensorBoardObserver(options),
  });
  registry.register({
    kind: 'observer',
    id: 'wandb',
    package: '@supermask/core',
    description: `Weights & Biases: the same scalars, logged through the optional peer dependency ${WANDB_PACKAGE} (Node, network)`,
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        project: { type: 'string', minLength: 1, default: 'supermask', description: 'W&B project' },
        entity: { type: 'string', minLength: 1, description: 'W&B entity (user or team); default: the logged-in user' },
        tags: { type: 'array', items: { type: 'string' }, description: 'tags of the W&B run' },
      },
    },
    create: (options: WandbOptions) => new WandbObserver(options),
  });
}
