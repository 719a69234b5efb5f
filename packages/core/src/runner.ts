import * as tf from '@tensorflow/tfjs';
import { container as rootContainer, instanceCachingFactory, type DependencyContainer } from 'tsyringe';
import { join } from 'node:path';
import { selectBackend, type BackendSelection } from './backend.js';
import { outputWidth, type ResolvedConfig, type ComponentSlot } from './config.js';
import type {
  Backbone,
  BackboneSpec,
  DatasetLoader,
  ExperimentPlugin,
  ForwardContext,
  InferenceContext,
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
import { augmentationFill, augmentBatch, isIdentityAugmentation, type AugmentationOptions } from './augment.js';
import { componentState, expectTensor, readCheckpoint, writeCheckpoint, type LoadedCheckpoint } from './checkpoint.js';
import { DataError } from './errors.js';
import { storedTensor, type StoredTensor } from './safetensors.js';

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
  /** A checkpoint to continue from (see Experiment.resume). */
  resume?: LoadedCheckpoint;
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
  /** Test accuracy of the task after each epoch (with `evaluation.each_epoch`). */
  epoch_accuracy?: number[];
}

export interface TaskRecord {
  index: number;
  name: string;
  classes: number[];
  train_examples: number;
  test_examples: number;
  phases: PhaseRecord[];
  transfer?: Record<string, unknown>;
  ownership?: Record<string, unknown>;
  evaluation_seconds: number;
  /** Time of the batch-norm statistics pass with the final mask (backbones with batch norm). */
  batch_norm_recalibration_seconds?: number;
  /** Bytes kept for the finished task: bit-packed masks and per-task backbone state (batch norm). */
  state_bytes: { masks: number; backbone: number; total: number };
  /** Size of the checkpoint written after the task (all tasks so far), when checkpoints are on. */
  checkpoint_bytes?: number;
}

export interface TaskInferenceRecord {
  task: number;
  /** Fraction of the task's test examples whose batch was assigned the right task. */
  task_id_accuracy: number;
  /** Accuracy when each batch is predicted with the inferred task's mask. */
  accuracy_inferred: number;
  /** Accuracy with the true task id. */
  accuracy_true: number;
  seconds: number;
}

export interface TaskInferenceSummary {
  method: string;
  batch_size: number;
  task_id_accuracy: number;
  /** Mean over tasks of accuracy_inferred. */
  average_accuracy: number;
  /** Mean over tasks of accuracy_true. */
  average_accuracy_true: number;
  tasks: TaskInferenceRecord[];
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
  /** Evaluation without task ids at the end of the run (when task_inference is not the oracle). */
  task_inference?: TaskInferenceSummary;
  /** Set when the run continued from a checkpoint. */
  resumed_from?: { dir: string; completed_tasks: number };
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
  private inferenceSummary: TaskInferenceSummary | undefined;
  private resumedFrom: { dir: string; completed_tasks: number } | undefined;
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
    const spec: BackboneSpec = { inputShape: stream.inputShape, numClasses: stream.numClasses, numOutputs: outputWidth(stream.numClasses, config) };
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
    const experiment = new Experiment(
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
    if (experiment.inference.wantsSuperfluousOutputs && spec.numOutputs === spec.numClasses) {
      logger.warn(
        `task inference "${config.task_inference.id}" without superfluous outputs: set outputs.superfluous (SupSup uses 90 with 10 classes) to tell tasks apart far more reliably`,
      );
    }
    if (params.resume) {
      try {
        experiment.restore(params.resume);
      } catch (error) {
        experiment.dispose();
        throw error;
      }
    }
    return experiment;
  }

  /**
   * Continues the run saved in `dir`: the config comes from the checkpoint, every finished task's
   * state is restored, and run() goes on with the next task (writing into the same directory).
   */
  static async resume(dir: string, params: Omit<ExperimentParams, 'config' | 'resume' | 'outDir'> & { config?: ResolvedConfig }): Promise<Experiment> {
    const checkpoint = readCheckpoint(dir);
    const config = (params.config ?? checkpoint.manifest.config) as unknown as ResolvedConfig;
    return Experiment.create({ ...params, config, outDir: dir, resume: checkpoint });
  }

  /** Tasks finished so far. */
  get finishedTasks(): number {
    return this.learnedTasks;
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
    if (!this.inference.usesTaskId && this.learnedTasks > 0) this.inferenceSummary = this.evaluateAllInference();
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
    const recalibrationSeconds = this.recalibrateBatchNorm(task);
    const layers = this.backbone.layers;
    for (const l of layers) await l.readMaskValues(t, this.scorer);
    const ownership = this.ownership.recordTask(
      t,
      layers.map((l) => l.maskValues(t, this.scorer)),
      layers,
    );
    // Compact task state: the final masks are stored bit-packed and the scores released
    // (a knowledge transfer that needs them keeps its own copy first).
    this.transfer.taskFinished?.(t, layers.map((l) => l.scoreValues(t)));
    for (const l of layers) l.finishTask(t, this.scorer);
    this.backbone.finishTask?.(t);
    this.learnedTasks = t + 1;
    const maskBytes = layers.reduce((sum, l) => sum + l.taskBytes(t).mask, 0);
    const backboneBytes = Object.values(this.backbone.taskState?.(t) ?? {}).reduce((sum, x) => sum + x.bytes.byteLength, 0);
    await this.emit('beforeEval', { afterTask: t });
    const evalStart = performance.now();
    const row: (number | null)[] = this.stream.tasks.map(() => null);
    for (let j = 0; j <= t; j++) row[j] = await this.evaluate(this.stream.tasks[j]!);
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
      ...(ownership ? { ownership } : {}),
      evaluation_seconds: evaluationSeconds,
      ...(recalibrationSeconds !== undefined ? { batch_norm_recalibration_seconds: recalibrationSeconds } : {}),
      state_bytes: { masks: maskBytes, backbone: backboneBytes, total: maskBytes + backboneBytes },
    };
    this.taskRecords.push(record);
    if (this.params.outDir && this.config.checkpoint.enabled) record.checkpoint_bytes = this.saveCheckpoint(this.params.outDir).bytes;
    await this.emit('afterTask', { task, record });
    return record;
  }

  /**
   * Re-estimates the task's batch-norm running statistics with its final mask and weights: a
   * forward pass in training mode (no gradient) over up to `batch_norm.recalibration_examples`
   * training examples. During training the masks change every step, so the running averages mix
   * statistics of networks that no longer exist; with few epochs that shows as a gap between
   * training and test accuracy. Skipped for backbones without per-task state.
   */
  private recalibrateBatchNorm(task: Task): number | undefined {
    const examples = Math.min(task.train.n, this.config.batch_norm.recalibration_examples);
    if (examples === 0 || Object.keys(this.backbone.taskState?.(task.index) ?? {}).length === 0) return undefined;
    const started = performance.now();
    const size = inputSize(task.inputShape);
    const order = this.rng.child(`recalibrate/${task.index}`).permutation(task.train.n);
    const batchSize = this.config.batch_norm.batch_size;
    for (let start = 0; start < examples; start += batchSize) {
      const end = Math.min(examples, start + batchSize);
      tf.tidy(() => {
        const { x } = gatherBatch(task.train, order, start, end, size, task.inputShape);
        this.backbone.forward(x, this.fixedContext(task.index, true));
      });
    }
    return (performance.now() - started) / 1000;
  }

  /** Accuracy on a task's test split with the true task id (the accuracy matrix uses this). */
  async evaluate(task: Task): Promise<number> {
    const batchSize = this.config.evaluation.batch_size;
    let correct = 0;
    for (let start = 0; start < task.test.n; start += batchSize) {
      const end = Math.min(task.test.n, start + batchSize);
      const predicted = tf.tidy(() => this.logits(testBatch(task, start, end), task.index).argMax(1));
      const values = (await predicted.data()) as Int32Array;
      predicted.dispose();
      for (let i = 0; i < values.length; i++) if (values[i] === task.test.y[start + i]) correct++;
    }
    return correct / task.test.n;
  }

  /**
   * Evaluation without the task id: the test split of `task` in batches of the inference's batch
   * size; each batch gets the task id `inference` infers from the learned tasks, and is predicted
   * with that task's mask. Returns task-identification accuracy (fraction of examples whose batch
   * got the right id) and accuracy with the inferred and with the true task id.
   */
  evaluateInference(task: Task, inference: TaskInference = this.inference): TaskInferenceRecord {
    const batchSize = inference.batchSize ?? this.config.evaluation.batch_size;
    const ctx = this.inferenceContext();
    let identified = 0;
    let correctInferred = 0;
    let correctTrue = 0;
    const started = performance.now();
    for (let start = 0; start < task.test.n; start += batchSize) {
      const end = Math.min(task.test.n, start + batchSize);
      const x = testBatch(task, start, end);
      try {
        const inferred = inference.infer(x, task.index, ctx);
        if (inferred === task.index) identified += end - start;
        const [ci, ct] = tf.tidy(() => {
          const withTrue = countCorrectRows(this.logits(x, task.index), task.test.y, start);
          const withInferred = inferred === task.index ? withTrue : countCorrectRows(this.logits(x, inferred), task.test.y, start);
          return [withInferred, withTrue];
        });
        correctInferred += ci;
        correctTrue += ct;
      } finally {
        x.dispose();
      }
    }
    const n = task.test.n;
    return {
      task: task.index,
      task_id_accuracy: identified / n,
      accuracy_inferred: correctInferred / n,
      accuracy_true: correctTrue / n,
      seconds: (performance.now() - started) / 1000,
    };
  }

  /** Evaluates every learned task without task ids (results.json `task_inference`). */
  evaluateAllInference(inference: TaskInference = this.inference): TaskInferenceSummary {
    const tasks = this.stream.tasks.slice(0, this.learnedTasks).map((t) => this.evaluateInference(t, inference));
    const mean = (key: 'task_id_accuracy' | 'accuracy_inferred' | 'accuracy_true') => tasks.reduce((s, r) => s + r[key], 0) / Math.max(1, tasks.length);
    return {
      method: inference.id,
      batch_size: inference.batchSize ?? this.config.evaluation.batch_size,
      task_id_accuracy: mean('task_id_accuracy'),
      average_accuracy: mean('accuracy_inferred'),
      average_accuracy_true: mean('accuracy_true'),
      tasks,
    };
  }

  /** What a task-inference plugin sees: the learned tasks, their contexts and masks. */
  inferenceContext(): InferenceContext {
    return {
      learned: this.learnedTasks,
      backbone: this.backbone,
      fixedContext: (j) => this.fixedContext(j),
      mask: (layer, j) => layer.maskTensor(j, this.scorer),
    };
  }

  /**
   * Logits of the stream's classes for `x` under task `task`'s fixed mask (superfluous outputs
   * left out; a new tensor, the caller disposes it).
   */
  logits(x: tf.Tensor, task: number): tf.Tensor2D {
    return tf.tidy(() => classLogits(this.backbone.forward(x, this.fixedContext(task)), this.stream.numClasses));
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
    let guard: ProtectedWeightsGuard | undefined;
    if (isMask) {
      variables = layers.map((l) => l.scores(t));
    } else {
      if (!this.ownership.allowsWeightTraining) {
        throw new Error(`strategy "${this.strategy.id}" asked for a weight phase but ownership policy "${this.ownership.id}" freezes every weight`);
      }
      for (const l of layers) await l.readMaskValues(t, this.scorer);
      editable = layers.map((l, i) => {
        const allowed = this.ownership.editable(i, t, l.maskValues(t, this.scorer));
        return allowed ? tf.keep(tf.tensor(allowed, l.shape)) : null;
      });
      variables = layers.filter((_, i) => editable[i] !== null).map((l) => l.weight);
      for (const v of variables) v.trainable = true;
      if (this.config.debug.check_protected_weights) guard = new ProtectedWeightsGuard(layers, editable, t);
    }
    const shuffleRng = this.rng.child(`shuffle/${t}/${phase.name}`);
    const augmentation = this.config.augmentation;
    const augment = isIdentityAugmentation(augmentation)
      ? undefined
      : { rng: this.rng.child(`augment/${t}/${phase.name}`), options: { ...augmentation, fill: augmentationFill(this.dataset.normalization) } };
    const size = inputSize(task.inputShape);
    let steps = 0;
    let seconds = 0;
    let lastLoss: number | null = null;
    let lastAccuracy: number | null = null;
    const epochAccuracy: number[] = [];
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
          const step = tf.tidy(() => {
            const { x, y } = gatherBatch(task.train, order, start, end, size, task.inputShape, augment);
            const ctx = isMask ? this.scoresContext(t) : this.fixedContext(t, true);
            let okCount: tf.Tensor | undefined;
            const { value, grads } = tf.variableGrads(() => {
              const logits = this.backbone.forward(x, ctx);
              okCount = tf.keep(countCorrect(classLogits(logits, this.stream.numClasses), y));
              // Over every output: superfluous outputs are pushed down like wrong classes.
              return tf.losses.softmaxCrossEntropy(tf.oneHot(y, logits.shape[1]), logits) as tf.Scalar;
            }, variables);
            if (!isMask) {
              layers.forEach((l, i) => {
                const allowed = editable[i];
                if (allowed && grads[l.weight.name]) grads[l.weight.name] = grads[l.weight.name]!.mul(allowed);
              });
            }
            optimizer.applyGradients(grads);
            return [value, okCount!];
          });
          const [loss, ok] = (await Promise.all(step.map((v) => v.data()))).map((v) => v[0]!) as [number, number];
          tf.dispose(step);
          guard?.check(epoch, b);
          if (isMask) for (const l of layers) l.invalidateMask(t);
          steps++;
          seen += count;
          lossSum += loss * count;
          correct += ok;
          lastLoss = loss;
          const elapsed = (performance.now() - epochStart) / 1000;
          this.emitSync('afterBatch', { ...info, epoch, batch: b, loss, trainAccuracy: correct / seen, samplesPerSecond: seen / Math.max(elapsed, 1e-9) });
        }
        const epochSeconds = (performance.now() - epochStart) / 1000;
        seconds += epochSeconds;
        lastAccuracy = seen > 0 ? correct / seen : null;
        const testAccuracy = this.config.evaluation.each_epoch ? await this.evaluate(task) : undefined;
        if (testAccuracy !== undefined) epochAccuracy.push(testAccuracy);
        await this.emit('afterEpoch', {
          ...(testAccuracy !== undefined ? { testAccuracy } : {}),
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
      ...(this.config.evaluation.each_epoch ? { epoch_accuracy: epochAccuracy } : {}),
    };
  }

  /** Writes the state after the finished tasks to `dir` (checkpoint.json + safetensors). */
  saveCheckpoint(dir: string): { file: string; bytes: number } {
    const tensors = new Map<string, StoredTensor>();
    for (const l of this.backbone.layers) {
      tensors.set(`layer/${l.name}/weight`, storedTensor('F32', l.shape, Float32Array.from(l.weight.dataSync() as Float32Array)));
    }
    for (let t = 0; t < this.learnedTasks; t++) {
      for (const l of this.backbone.layers) {
        const bits = l.packedMask(t);
        tensors.set(`layer/${l.name}/mask/${t}`, storedTensor('U8', [bits.length], bits));
      }
      for (const [name, x] of Object.entries(this.backbone.taskState?.(t) ?? {})) tensors.set(`backbone/${t}/${name}`, x);
    }
    const components: Record<string, unknown> = {};
    for (const [prefix, component] of [['ownership_policy', this.ownership], ['knowledge_transfer', this.transfer]] as const) {
      const state = component.saveState?.();
      if (!state) continue;
      components[prefix] = state.json ?? null;
      for (const [name, x] of Object.entries(state.tensors ?? {})) tensors.set(`${prefix}/${name}`, x);
    }
    return writeCheckpoint(
      dir,
      {
        format: 'supermask-checkpoint',
        format_version: 1,
        created_at: new Date().toISOString(),
        config: this.config as unknown as Record<string, unknown> & { seed: number },
        seed: this.config.seed,
        rng_state: this.rng.getState(),
        stream: { name: this.stream.name, tasks: this.stream.tasks.length, input_shape: this.stream.inputShape, num_classes: this.stream.numClasses },
        completed_tasks: this.learnedTasks,
        components,
        accuracy_matrix: this.accuracyMatrix,
        tasks: this.taskRecords as unknown as Record<string, unknown>[],
        started_at: this.startedAt.toISOString(),
        backend: this.backendSelection.backend,
      },
      tensors,
    );
  }

  /** Restores the finished tasks of a checkpoint into this (fresh) experiment. */
  private restore(ckpt: LoadedCheckpoint): void {
    const m = ckpt.manifest;
    const fail = (what: string): never => {
      throw new DataError(`${ckpt.file}: ${what}`, ckpt.file);
    };
    if (m.stream.tasks !== this.stream.tasks.length || m.stream.input_shape.join(',') !== this.stream.inputShape.join(',') || m.stream.num_classes !== this.stream.numClasses) {
      fail(`the checkpoint's stream (${m.stream.tasks} tasks, input [${m.stream.input_shape.join(', ')}], ${m.stream.num_classes} outputs) does not match the data (${this.stream.tasks.length} tasks, input [${this.stream.inputShape.join(', ')}], ${this.stream.numClasses} outputs)`);
    }
    if (m.completed_tasks > this.stream.tasks.length || m.accuracy_matrix.length !== m.completed_tasks || m.tasks.length !== m.completed_tasks) {
      fail(`inconsistent checkpoint: ${m.completed_tasks} completed tasks, ${m.accuracy_matrix.length} accuracy rows, ${m.tasks.length} task records`);
    }
    const layers = this.backbone.layers;
    // Validate every tensor before changing anything.
    const weights = layers.map((l) => expectTensor(ckpt, `layer/${l.name}/weight`, 'F32', l.shape));
    const masks = Array.from({ length: m.completed_tasks }, (_, t) => layers.map((l) => expectTensor(ckpt, `layer/${l.name}/mask/${t}`, 'U8', [Math.ceil(l.size / 8)])));
    layers.forEach((l, i) => {
      const w = weights[i]!;
      tf.tidy(() => l.weight.assign(tf.tensor(new Float32Array(w.bytes.slice().buffer), l.shape)));
    });
    for (let t = 0; t < m.completed_tasks; t++) {
      this.backbone.addTask(t);
      layers.forEach((l, i) => l.restoreFinishedTask(t, Uint8Array.from(masks[t]![i]!.bytes)));
      if (this.backbone.loadTaskState) {
        const prefix = `backbone/${t}/`;
        const state: Record<string, StoredTensor> = {};
        for (const [name, x] of ckpt.tensors) if (name.startsWith(prefix)) state[name.slice(prefix.length)] = x;
        try {
          this.backbone.loadTaskState(t, state);
        } catch (error) {
          fail(`${(error as Error).message}`);
        }
      }
      this.backbone.finishTask?.(t);
    }
    for (const [prefix, component] of [['ownership_policy', this.ownership], ['knowledge_transfer', this.transfer]] as const) {
      if (!(prefix in m.components)) continue;
      if (!component.loadState) fail(`it holds ${prefix} state but ${prefix} "${component.id}" cannot load state`);
      try {
        component.loadState!(componentState(ckpt, prefix));
      } catch (error) {
        fail(`${prefix} state: ${(error as Error).message}`);
      }
    }
    this.rng.setState(m.rng_state);
    this.accuracyMatrix.push(...m.accuracy_matrix);
    this.taskRecords.push(...(m.tasks as unknown as TaskRecord[]));
    this.learnedTasks = m.completed_tasks;
    this.resumedFrom = { dir: ckpt.dir, completed_tasks: m.completed_tasks };
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
      ...(this.inferenceSummary ? { task_inference: this.inferenceSummary } : {}),
      ...(this.resumedFrom ? { resumed_from: this.resumedFrom } : {}),
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

/**
 * Debug mode (`debug.check_protected_weights`): after every weight-phase step, checks that each
 * weight the ownership policy protects is bit-for-bit what it was when the phase started.
 */
class ProtectedWeightsGuard {
  private readonly snapshots: { layer: MaskedLayer; before: Uint32Array; allowed: Float32Array | null }[];

  constructor(layers: readonly MaskedLayer[], editable: readonly (tf.Tensor | null)[], private readonly task: number) {
    this.snapshots = layers.map((layer, i) => ({
      layer,
      before: new Uint32Array(Float32Array.from(layer.weight.dataSync() as Float32Array).buffer),
      allowed: editable[i] ? Float32Array.from(editable[i]!.dataSync() as Float32Array) : null,
    }));
  }

  check(epoch: number, batch: number): void {
    for (const { layer, before, allowed } of this.snapshots) {
      const now = new Uint32Array((layer.weight.dataSync() as Float32Array).slice().buffer);
      for (let i = 0; i < now.length; i++) {
        if ((allowed === null || allowed[i] === 0) && now[i] !== before[i]) {
          throw new Error(
            `protected weight changed: layer ${layer.name}, index ${i}, task ${this.task + 1}, epoch ${epoch + 1}, batch ${batch + 1} ` +
              `(the ownership policy does not let this task change it)`,
          );
        }
      }
    }
  }
}

function gatherBatch(
  split: Split,
  order: Int32Array,
  start: number,
  end: number,
  size: number,
  shape: number[],
  augment?: { rng: Rng; options: AugmentationOptions },
): { x: tf.Tensor; y: tf.Tensor1D } {
  const count = end - start;
  let xs: Float32Array = new Float32Array(count * size);
  const ys = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const row = order[start + i]!;
    xs.set(split.x.subarray(row * size, (row + 1) * size), i * size);
    ys[i] = split.y[row]!;
  }
  if (augment) xs = augmentBatch(xs, count, shape, augment.rng, augment.options);
  return { x: tf.tensor(xs, [count, ...shape]), y: tf.tensor1d(ys, 'int32') };
}

function testBatch(task: Task, start: number, end: number): tf.Tensor {
  const size = inputSize(task.inputShape);
  return tf.tensor(task.test.x.subarray(start * size, end * size), [end - start, ...task.inputShape]);
}

/** The first `numClasses` columns of `logits`: superfluous outputs are never predicted. */
export function classLogits(logits: tf.Tensor2D, numClasses: number): tf.Tensor2D {
  return logits.shape[1] === numClasses ? logits : logits.slice([0, 0], [-1, numClasses]);
}

/** Rows of `logits` whose argmax equals labels[offset + row]. */
function countCorrectRows(logits: tf.Tensor2D, labels: Int32Array, offset: number): number {
  const predicted = logits.argMax(1).dataSync() as Int32Array;
  let ok = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === labels[offset + i]) ok++;
  return ok;
}

function countCorrect(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor {
  return tf.tidy(() => logits.argMax(1).equal(y).sum());
}
