import * as tf from '@tensorflow/tfjs';
import { container as rootContainer, instanceCachingFactory, type DependencyContainer } from 'tsyringe';
import { join } from 'node:path';
import { selectBackend, type BackendSelection } from './backend.js';
import type { ResolvedConfig, ComponentSlot } from './config.js';
import type {
  Backbone,
  BackboneSpec,
  DatasetLoader,
  ExperimentPlugin,
  ForwardContext,
  KnowledgeTransfer,
  MaskScorer,
  PhaseInfo,
  PhaseSpec,
  StreamBuilder,
  Strategy,
  TaskInference,
  WeightOwnershipPolicy,
} from './contracts.js';
import { inputSize, type LabeledDataset, type Split, type Task, type TaskStream } from './data.js';
import { writeFileAtomic, writeJsonAtomic } from './files.js';
import type { MaskedLayer } from './layers/masked-layer.js';
import { accuracyMatrixCsv, averageAccuracy, backwardTransfer, forgetting, type AccuracyMatrix } from './metrics.js';
import { createOptimizer, learningRateAt, setLearningRate } from './phases.js';
import type { Registry } from './registry.js';
import { Rng } from './rng.js';
import { TOKENS, type RunOptions } from './tokens.js';
import { versions } from './versions.js';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

export const silentLogger: Logger = { info: () => {}, warn: () => {} };

export interface ExperimentParams {
  config: ResolvedConfig;
  registry: Registry;
  /** Run directory for results.json and accuracy_matrix.csv; nothing is written without it. */
  outDir?: string;
  runOptions?: RunOptions;
  plugins?: ExperimentPlugin[];
  logger?: Logger;
  /** Parent DI container (default: tsyringe's root container). */
  container?: DependencyContainer;
}

export interface PhaseRecord {
  name: PhaseSpec['name'];
  epochs: number;
  optimizer: string;
  lr: number;
  schedule: string;
  batch_size: number;
  steps: number;
  seconds: number;
  samples_per_second: number;
  final_loss: number | null;
  train_accuracy: number | null;
}

export interface TaskRecord {
  index: number;
  name: string;
  classes: number[];
  train_examples: number;
  test_examples: number;
  phases: PhaseRecord[];
  transfer?: Record<string, unknown>;
  evaluation_seconds: number;
}

export interface ExperimentResults {
  format_version: 1;
  name: string;
  config: ResolvedConfig;
  seed: number;
  backend: string;
  backend_module?: string;
  versions: Record<string, string>;
  dataset: { name: string; source: string };
  stream: { name: string; tasks: number; input_shape: number[]; num_classes: number };
  backbone: Record<string, unknown>;
  densities: Record<string, number>;
  accuracy_matrix: AccuracyMatrix;
  average_accuracy: number;
  forgetting: number;
  backward_transfer: number;
  tasks: TaskRecord[];
  ownership?: unknown;
  started_at: string;
  finished_at: string;
  wall_time_seconds: number;
}

const KIND_TOKENS: Record<Exclude<ComponentSlot, 'dataset' | 'stream'>, symbol> = {
  backbone: TOKENS.Backbone,
  strategy: TOKENS.Strategy,
  mask_scorer: TOKENS.MaskScorer,
  ownership_policy: TOKENS.OwnershipPolicy,
  knowledge_transfer: TOKENS.KnowledgeTransfer,
  task_inference: TOKENS.TaskInference,
};

/**
 * One continual-learning experiment: the task loop with its phases, evaluation after every task
 * on every task seen so far, and the results. Components come from the registry through a DI
 * container of the run, so each resolves its collaborators by token.
 */
export class Experiment {
  readonly accuracyMatrix: AccuracyMatrix = [];
  readonly taskRecords: TaskRecord[] = [];
  private readonly logger: Logger;
  private readonly plugins: ExperimentPlugin[];
  private readonly startedAt = new Date();
  private disposed = false;
  /** Tasks whose training is finished (their masks are final). */
  private learnedTasks = 0;

  private constructor(
    readonly config: ResolvedConfig,
    readonly container: DependencyContainer,
    readonly backendSelection: BackendSelection,
    readonly dataset: LabeledDataset,
    readonly stream: TaskStream,
    readonly backbone: Backbone,
    readonly strategy: Strategy,
    readonly scorer: MaskScorer,
    readonly ownership: WeightOwnershipPolicy,
    readonly transfer: KnowledgeTransfer,
    readonly inference: TaskInference,
    readonly rng: Rng,
    private readonly params: ExperimentParams,
  ) {
    this.logger = params.logger ?? silentLogger;
    this.plugins = params.plugins ?? [];
  }

  /** Selects the backend, loads the data, builds the stream and every component. */
  static async create(params: ExperimentParams): Promise<Experiment> {
    const { config, registry } = params;
    const logger = params.logger ?? silentLogger;
    const backend = await selectBackend(config.backend);
    for (const note of backend.notes) logger.warn(note);

    const rng = new Rng(config.seed);
    const c = (params.container ?? rootContainer).createChildContainer();
    c.register(TOKENS.Registry, { useValue: registry });
    c.register(TOKENS.Rng, { useValue: rng });
    c.register(TOKENS.RunOptions, { useValue: params.runOptions ?? {} });
    c.register(TOKENS.Logger, { useValue: logger });

    const loader = registry.get('dataset', config.dataset.id).create(config.dataset.options, c) as DatasetLoader;
    const dataset = await loader.load();
    const builder = registry.get('stream', config.stream.id).create(config.stream.options, c) as StreamBuilder;
    const stream = builder.build(dataset, rng.child('stream'));
    if (stream.tasks.length === 0) throw new Error(`stream "${config.stream.id}" produced no tasks`);
    const spec: BackboneSpec = { inputShape: stream.inputShape, numClasses: stream.numClasses };
    c.register(TOKENS.BackboneSpec, { useValue: spec });
    for (const [slot, token] of Object.entries(KIND_TOKENS) as [keyof typeof KIND_TOKENS, symbol][]) {
      const ref = config[slot];
      const def = registry.get(slot, ref.id);
      c.register(token, { useFactory: instanceCachingFactory((dc) => def.create(ref.options, dc)) });
    }
    const backbone = c.resolve<Backbone>(TOKENS.Backbone);
    const scorer = c.resolve<MaskScorer>(TOKENS.MaskScorer);
    const densities = scorer.densities(backbone.layers);
    backbone.layers.forEach((layer, i) => {
      layer.density = densities[i]!;
    });
    return new Experiment(
      config,
      c,
      backend,
      dataset,
      stream,
      backbone,
      c.resolve<Strategy>(TOKENS.Strategy),
      scorer,
      c.resolve<WeightOwnershipPolicy>(TOKENS.OwnershipPolicy),
      c.resolve<KnowledgeTransfer>(TOKENS.KnowledgeTransfer),
      c.resolve<TaskInference>(TOKENS.TaskInference),
      rng,
      params,
    );
  }

  /** Forward context with task `task`'s scores trainable through the straight-through mask. */
  scoresContext(task: number): ForwardContext {
    return {
      task,
      training: true,
      weight: (layer: MaskedLayer) => layer.weight.mul(this.scorer.maskWithGradient(layer.scores(task), layer.density)),
    };
  }

  /** Forward context with task `task`'s fixed (cached) mask. */
  fixedContext(task: number, training = false): ForwardContext {
    return {
      task,
      training,
      weight: (layer: MaskedLayer) => layer.weight.mul(layer.maskTensor(task, this.scorer)),
    };
  }

  /** Runs every task, writes the results (when outDir is set) and returns them. */
  async run(): Promise<ExperimentResults> {
    await this.emit('beforeExperiment', { stream: this.stream, backend: this.backendSelection.backend });
    for (const task of this.stream.tasks) {
      if (task.index < this.taskRecords.length) continue;
      await this.runTask(task);
    }
    const results = this.results();
    if (this.params.outDir) this.writeResults(this.params.outDir, results);
    await this.emit('afterExperiment', { results });
    return results;
  }

  /** Trains task `task` (all its phases), records ownership, evaluates every task seen so far. */
  async runTask(task: Task): Promise<TaskRecord> {
    const t = task.index;
    if (t !== this.taskRecords.length) throw new Error(`tasks run in order: expected task ${this.taskRecords.length + 1}, got ${t + 1}`);
    await this.emit('beforeTask', { task });
    this.backbone.addTask(t);
    for (const layer of this.backbone.layers) {
      layer.addTask(t, this.scorer.initScores(layer, this.rng.child(`scores/${t}/${layer.name}`)));
    }
    const transfer = await this.transfer.beforeTask({
      task,
      earlier: this.stream.tasks.slice(0, t),
      backbone: this.backbone,
      rng: this.rng.child(`transfer/${t}`),
      fixedContext: (j) => this.fixedContext(j),
      scoresOf: (j) => this.backbone.layers.map((l) => l.scoreValues(j)),
      setScores: (j, scores) => this.backbone.layers.forEach((l, i) => l.setScores(j, scores[i]!)),
    });
    const phases: PhaseRecord[] = [];
    for (const phase of this.strategy.phases(task)) {
      phases.push(await this.trainPhase(task, phase));
    }
    this.ownership.recordTask(
      t,
      this.backbone.layers.map((l) => l.maskValues(t, this.scorer)),
    );
    this.backbone.finishTask?.(t);
    this.learnedTasks = t + 1;
    await this.emit('beforeEval', { afterTask: t });
    const evalStart = performance.now();
    const row: (number | null)[] = this.stream.tasks.map(() => null);
    for (let j = 0; j <= t; j++) row[j] = this.evaluate(this.stream.tasks[j]!);
    const evaluationSeconds = (performance.now() - evalStart) / 1000;
    this.accuracyMatrix.push(row);
    await this.emit('afterEval', { afterTask: t, accuracies: row.slice(0, t + 1) as number[] });
    const record: TaskRecord = {
      index: t,
      name: task.name,
      classes: task.classes,
      train_examples: task.train.n,
      test_examples: task.test.n,
      phases,
      ...(transfer ? { transfer } : {}),
      evaluation_seconds: evaluationSeconds,
    };
    this.taskRecords.push(record);
    await this.emit('afterTask', { task, record });
    return record;
  }

  /** Accuracy on a task's test split (task id from the task inference plugin). */
  evaluate(task: Task): number {
    const batchSize = this.config.evaluation.batch_size;
    const size = inputSize(task.inputShape);
    let correct = 0;
    for (let start = 0; start < task.test.n; start += batchSize) {
      const end = Math.min(task.test.n, start + batchSize);
      correct += tf.tidy(() => {
        const x = tf.tensor(task.test.x.subarray(start * size, end * size), [end - start, ...task.inputShape]);
        const taskId = this.inference.infer(x, task.index, {
          learned: this.learnedTasks,
          backbone: this.backbone,
          fixedContext: (j) => this.fixedContext(j),
        });
        const logits = this.backbone.forward(x, this.fixedContext(taskId));
        const predicted = logits.argMax(1).dataSync() as Int32Array;
        let ok = 0;
        for (let i = 0; i < predicted.length; i++) if (predicted[i] === task.test.y[start + i]) ok++;
        return ok;
      });
    }
    return correct / task.test.n;
  }

  /** Logits of `x` under task `task`'s fixed mask (a new tensor; the caller disposes it). */
  logits(x: tf.Tensor, task: number): tf.Tensor2D {
    return tf.tidy(() => this.backbone.forward(x, this.fixedContext(task)));
  }

  private async trainPhase(task: Task, phase: PhaseSpec): Promise<PhaseRecord> {
    const t = task.index;
    const layers = this.backbone.layers;
    const n = task.train.n;
    const batchesPerEpoch = Math.ceil(n / phase.batch_size);
    const info: PhaseInfo = { task, phase, batchesPerEpoch };
    await this.emit('beforePhase', info);
    const optimizer = createOptimizer(phase);
    const isMask = phase.name === 'mask';
    let variables: tf.Variable[];
    let editable: (tf.Tensor | null)[] = [];
    if (isMask) {
      variables = layers.map((l) => l.scores(t));
    } else {
      if (!this.ownership.allowsWeightTraining) {
        throw new Error(`strategy "${this.strategy.id}" asked for a weight phase but ownership policy "${this.ownership.id}" freezes every weight`);
      }
      editable = layers.map((l, i) => {
        const allowed = this.ownership.editable(i, t, l.maskValues(t, this.scorer));
        return allowed ? tf.keep(tf.tensor(allowed, l.shape)) : null;
      });
      variables = layers.filter((_, i) => editable[i] !== null).map((l) => l.weight);
      for (const v of variables) v.trainable = true;
    }
    const shuffleRng = this.rng.child(`shuffle/${t}/${phase.name}`);
    const size = inputSize(task.inputShape);
    let steps = 0;
    let seconds = 0;
    let lastLoss: number | null = null;
    let lastAccuracy: number | null = null;
    try {
      for (let epoch = 0; epoch < phase.epochs; epoch++) {
        setLearningRate(optimizer, learningRateAt(phase, epoch));
        await this.emit('beforeEpoch', { ...info, epoch });
        const order = shuffleRng.permutation(n);
        const epochStart = performance.now();
        let lossSum = 0;
        let correct = 0;
        let seen = 0;
        for (let b = 0; b < batchesPerEpoch; b++) {
          const start = b * phase.batch_size;
          const end = Math.min(n, start + phase.batch_size);
          const count = end - start;
          this.emitSync('beforeBatch', { ...info, epoch, batch: b });
          const { loss, ok } = tf.tidy(() => {
            const { x, y } = gatherBatch(task.train, order, start, end, size, task.inputShape);
            const ctx = isMask ? this.scoresContext(t) : this.fixedContext(t, true);
            let okCount = 0;
            const { value, grads } = tf.variableGrads(() => {
              const logits = this.backbone.forward(x, ctx);
              okCount = countCorrect(logits, y);
              return tf.losses.softmaxCrossEntropy(tf.oneHot(y, this.stream.numClasses), logits) as tf.Scalar;
            }, variables);
            if (!isMask) {
              layers.forEach((l, i) => {
                const allowed = editable[i];
                if (allowed && grads[l.weight.name]) grads[l.weight.name] = grads[l.weight.name]!.mul(allowed);
              });
            }
            optimizer.applyGradients(grads);
            return { loss: value.dataSync()[0]!, ok: okCount };
          });
          if (isMask) for (const l of layers) l.invalidateMask(t);
          steps++;
          seen += count;
          lossSum += loss * count;
          correct += ok;
          lastLoss = loss;
          const elapsed = (performance.now() - epochStart) / 1000;
          this.emitSync('afterBatch', { ...info, epoch, batch: b, loss, samplesPerSecond: seen / Math.max(elapsed, 1e-9) });
        }
        const epochSeconds = (performance.now() - epochStart) / 1000;
        seconds += epochSeconds;
        lastAccuracy = seen > 0 ? correct / seen : null;
        await this.emit('afterEpoch', {
          ...info,
          epoch,
          loss: seen > 0 ? lossSum / seen : NaN,
          trainAccuracy: lastAccuracy ?? NaN,
          samplesPerSecond: seen / Math.max(epochSeconds, 1e-9),
        });
      }
    } finally {
      optimizer.dispose();
      for (const e of editable) e?.dispose();
      if (!isMask) for (const v of variables) v.trainable = false;
    }
    const samplesPerSecond = seconds > 0 ? (steps > 0 ? (n * phase.epochs) / seconds : 0) : 0;
    await this.emit('afterPhase', { ...info, seconds, samplesPerSecond });
    return {
      name: phase.name,
      epochs: phase.epochs,
      optimizer: phase.optimizer,
      lr: phase.lr,
      schedule: phase.schedule,
      batch_size: phase.batch_size,
      steps,
      seconds,
      samples_per_second: samplesPerSecond,
      final_loss: lastLoss,
      train_accuracy: lastAccuracy,
    };
  }

  /** The results so far, as written to results.json. */
  results(): ExperimentResults {
    const finished = new Date();
    const densities: Record<string, number> = {};
    for (const l of this.backbone.layers) densities[l.name] = l.density;
    const ownership = this.ownership.report();
    return {
      format_version: 1,
      name: this.config.name,
      config: this.config,
      seed: this.config.seed,
      backend: this.backendSelection.backend,
      ...(this.backendSelection.module ? { backend_module: this.backendSelection.module } : {}),
      versions: versions(),
      dataset: { name: this.dataset.name, source: this.dataset.source },
      stream: {
        name: this.stream.name,
        tasks: this.stream.tasks.length,
        input_shape: this.stream.inputShape,
        num_classes: this.stream.numClasses,
      },
      backbone: this.backbone.describe(),
      densities,
      accuracy_matrix: this.accuracyMatrix,
      average_accuracy: averageAccuracy(this.accuracyMatrix),
      forgetting: forgetting(this.accuracyMatrix),
      backward_transfer: backwardTransfer(this.accuracyMatrix),
      tasks: this.taskRecords,
      ...(ownership ? { ownership } : {}),
      started_at: this.startedAt.toISOString(),
      finished_at: finished.toISOString(),
      wall_time_seconds: (finished.getTime() - this.startedAt.getTime()) / 1000,
    };
  }

  /** Writes results.json and accuracy_matrix.csv into `dir` (each atomically). */
  writeResults(dir: string, results: ExperimentResults = this.results()): void {
    writeJsonAtomic(join(dir, 'results.json'), results);
    writeFileAtomic(join(dir, 'accuracy_matrix.csv'), accuracyMatrixCsv(results.accuracy_matrix));
  }

  /** Releases every tensor the experiment holds. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.backbone.dispose();
    this.container.dispose?.();
  }

  private async emit<K extends keyof ExperimentPlugin>(event: K, info: unknown): Promise<void> {
    for (const p of this.plugins) {
      const fn = p[event] as ((i: unknown) => unknown) | undefined;
      if (typeof fn === 'function') {
        const r = fn.call(p, info);
        if (r && typeof (r as Promise<void>).then === 'function') await r;
      }
    }
  }

  private emitSync<K extends 'beforeBatch' | 'afterBatch'>(event: K, info: unknown): void {
    for (const p of this.plugins) {
      const fn = p[event] as ((i: unknown) => unknown) | undefined;
      if (typeof fn === 'function') fn.call(p, info);
    }
  }
}

function gatherBatch(split: Split, order: Int32Array, start: number, end: number, size: number, shape: number[]): { x: tf.Tensor; y: tf.Tensor1D } {
  const count = end - start;
  const xs = new Float32Array(count * size);
  const ys = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const row = order[start + i]!;
    xs.set(split.x.subarray(row * size, (row + 1) * size), i * size);
    ys[i] = split.y[row]!;
  }
  return { x: tf.tensor(xs, [count, ...shape]), y: tf.tensor1d(ys, 'int32') };
}

function countCorrect(logits: tf.Tensor2D, y: tf.Tensor1D): number {
  return tf.tidy(() => logits.argMax(1).equal(y).sum().dataSync()[0]!);
}
