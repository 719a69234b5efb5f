import type * as tf from '@tensorflow/tfjs-core';
import type { DependencyContainer } from 'tsyringe';
import type { BackendSelection } from './backend.js';
import { checkpointObserver, resultsObserver } from './builtin-observers.js';
import type { ResolvedConfig } from './config.js';
import type { Backbone, KnowledgeTransfer, MaskScorer, Strategy, TaskInference, WeightOwnershipPolicy } from './contracts.js';
import type { LoadedCheckpoint } from './checkpoint.js';
import { compose, silentLogger, type Composition, type Logger } from './compose.js';
import { fixedContext } from './contexts.js';
import type { LabeledDataset, Task, TaskStream } from './data.js';
import { evaluateAllInference, evaluateTask, recalibrateBatchNorm, taskInferenceWarnings, taskLogits } from './evaluation.js';
import type { AccuracyMatrix } from './metrics.js';
import { captureMidTask, CheckpointClock, restoreMidTask, type LoopState, type ResumePoint } from './mid-task.js';
import { dispatch, type EventInfo, type Observer, type ObserverEvent, type RunOutcome, type RunView, type TrainingPosition } from './observer.js';
import type { Registry } from './registry.js';
import { buildResults, type ExperimentResults, type PhaseRecord, type TaskInferenceSummary, type TaskRecord } from './results.js';
import type { Rng } from './rng.js';
import { adoptState, restoreRunState, saveRunState, type StatefulEntry } from './state.js';
import { TOKENS, type RunOptions } from './tokens.js';
import { newRunId, runFiles } from './run-files.js';
import { StopRequested, trainPhase } from './training.js';

export { silentLogger, type Logger } from './compose.js';

export interface ExperimentParams {
  config: ResolvedConfig;
  registry: Registry;
  /** Run directory for results.json, checkpoints, metrics.csv, events.jsonl; nothing is written without it. */
  outDir?: string;
  runOptions?: RunOptions;
  /** Observers given as objects (after the config's `observers`), e.g. the CLI's progress bars. */
  observers?: Observer[];
  logger?: Logger;
  /** Parent DI container (default: tsyringe's root container). */
  container?: DependencyContainer;
  /** A checkpoint to continue from (see Experiment.resume). */
  resume?: LoadedCheckpoint;
  /** Aborting it stops the run at the next batch boundary (like requestStop()). */
  signal?: AbortSignal;
  /** The run id written into results.json and checkpoint.json (default: the resumed checkpoint's, else a new UUID). */
  runId?: string;
  /** A backend the caller already activated (a web page picks webgpu, webgl, wasm or cpu itself); config.backend then selects nothing. */
  backend?: BackendSelection;
}

/**
 * One continual-learning experiment: the task loop and event dispatch. Each task: its phases
 * (phase kinds of the strategy's recipe, training.ts), batch-norm recalibration, ownership,
 * finishing the masks, evaluation on every task seen so far; observers hear every step.
 */
export class Experiment implements RunView {
  readonly accuracyMatrix: AccuracyMatrix = [];
  readonly taskRecords: TaskRecord[] = [];
  readonly config: ResolvedConfig;
  readonly backendSelection: BackendSelection;
  readonly dataset: LabeledDataset;
  readonly stream: TaskStream;
  readonly backbone: Backbone;
  readonly strategy: Strategy;
  readonly scorer: MaskScorer;
  readonly ownership: WeightOwnershipPolicy;
  readonly transfer: KnowledgeTransfer;
  readonly inference: TaskInference;
  readonly rng: Rng;
  private readonly observers: Observer[];
  private readonly startedAt = new Date();
  /** Written into results.json and every checkpoint.json, kept on resume. */
  readonly runId: string;
  private disposed = false;
  private stopRequestedFlag = false;
  private current: TrainingPosition | undefined;
  private inferenceSummary: TaskInferenceSummary | undefined;
  private resumedFrom: { dir: string; completed_tasks: number } | undefined;
  private outcome: RunOutcome | undefined;
  /** Tasks whose training is finished (their masks are final). */
  private learnedTasks = 0;
  /** Where a resumed mid-task checkpoint continues (consumed by its task). */
  private resumePoint: ResumePoint | undefined;
  /** The task in training: its finished phases and transfer record (for mid-task checkpoints). */
  private taskInProgress: { phases: PhaseRecord[]; transfer?: TaskRecord['transfer'] } | undefined;
  private readonly clock: CheckpointClock;

  private constructor(
    private readonly parts: Composition,
    private readonly params: ExperimentParams,
  ) {
    this.config = params.config;
    this.runId = params.runId ?? params.resume?.manifest.run_id ?? newRunId();
    ({ backend: this.backendSelection, dataset: this.dataset, stream: this.stream, backbone: this.backbone, strategy: this.strategy, scorer: this.scorer } = parts);
    ({ ownership: this.ownership, transfer: this.transfer, inference: this.inference, rng: this.rng } = parts);
    parts.container.register(TOKENS.Run, { useValue: this });
    this.clock = new CheckpointClock(params.config.checkpoint);
    // results.json is written before other observers hear afterExperiment; the checkpoint after
    // every other observer handled afterTask, so their state includes the task.
    this.observers = [...(params.outDir ? [resultsObserver] : []), ...parts.observers, ...(params.observers ?? []), ...(params.outDir ? [checkpointObserver(this)] : [])];
  }

  /** Selects the backend, loads the data, builds the stream and every component. */
  static async create(params: ExperimentParams): Promise<Experiment> {
    const logger = params.logger ?? silentLogger;
    const parts = await compose(params.config, params.registry, logger, params.runOptions, params.container, params.backend);
    const experiment = new Experiment(parts, params);
    for (const warning of taskInferenceWarnings(experiment.inference, params.config)) logger.warn(warning);
    if (params.resume) {
      try {
        const restored = restoreRunState(params.resume, experiment.parts, (key) => experiment.statefulComponent(key));
        experiment.accuracyMatrix.push(...restored.accuracyMatrix);
        experiment.taskRecords.push(...restored.taskRecords);
        experiment.learnedTasks = restored.completed;
        experiment.resumedFrom = { dir: params.resume.dir, completed_tasks: restored.completed };
        if (params.resume.manifest.position) experiment.resumePoint = restoreMidTask(params.resume, experiment.backbone);
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
    const checkpoint = runFiles().readCheckpoint(dir);
    const config = (params.config ?? checkpoint.manifest.config) as unknown as ResolvedConfig;
    return Experiment.create({ ...params, config, outDir: dir, resume: checkpoint });
  }

  get outDir(): string | undefined {
    return this.params.outDir;
  }

  get backend(): string {
    return this.backendSelection.backend;
  }

  /** Tasks finished so far. */
  get finishedTasks(): number {
    return this.learnedTasks;
  }

  get position(): Readonly<TrainingPosition> | undefined {
    return this.current;
  }

  /** Where a resumed run continues inside a task (from a mid-task checkpoint), until that task runs. */
  get resumePosition(): ResumePoint['position'] | undefined {
    return this.resumePoint?.position;
  }

  masks(task: number): Float32Array[] {
    return this.backbone.layers.map((l) => Float32Array.from(l.masks.values(task)));
  }

  /** Asks the run to stop at the next batch boundary; run() then resolves with an `interrupted` outcome. */
  requestStop(): void {
    this.stopRequestedFlag = true;
  }

  private get stopRequested(): boolean {
    return this.stopRequestedFlag || this.params.signal?.aborted === true;
  }

  /** Runs every remaining task and returns the results (written by the results observer when outDir is set). */
  async run(): Promise<ExperimentResults> {
    await this.emit('beforeExperiment', { stream: this.stream, backend: this.backendSelection.backend });
    this.outcome = { status: 'completed' };
    try {
      for (const task of this.stream.tasks) {
        if (task.index < this.taskRecords.length) continue;
        if (this.stopRequested) throw new StopRequested({ task: task.index, phase: '', epoch: 0, batch: 0 });
        await this.runTask(task);
      }
      if (!this.inference.usesTaskId && this.learnedTasks > 0) this.inferenceSummary = await this.evaluateTaskInference();
    } catch (error) {
      if (!(error instanceof StopRequested)) throw error;
      const p = error.position;
      this.outcome = { status: 'interrupted', task: p.task + 1, phase: p.phase, epoch: p.epoch + 1, batch: p.batch + 1 };
      this.params.logger?.warn(`stopped during task ${p.task + 1}; the run directory holds the ${this.learnedTasks} finished task(s)`);
    }
    const results = this.results();
    await this.emit('afterExperiment', { results, outcome: this.outcome });
    return results;
  }

  /** Trains task `task` (all its phases), records ownership, evaluates every task seen so far. */
  private async runTask(task: Task): Promise<TaskRecord> {
    const t = task.index;
    await this.emit('beforeTask', { task });
    const layers = this.backbone.layers;
    // From a mid-task checkpoint: the task was added and its transfer done before the checkpoint.
    const resume = this.resumePoint?.position.task === t ? this.resumePoint : undefined;
    this.resumePoint = undefined;
    if (!resume) {
      this.backbone.addTask(t);
      for (const layer of layers) layer.masks.add(t, undefined, this.rng.child(`scores/${t}/${layer.name}`));
    }
    const transfer = resume ? resume.position.transfer : await this.transfer.beforeTask({
      task,
      earlier: this.stream.tasks.slice(0, t),
      backbone: this.backbone,
      rng: this.rng.child(`transfer/${t}`),
      fixedContext: (j) => fixedContext(j),
      scoresOf: (j) => layers.map((l) => l.masks.scoreValues(j)),
      setScores: (j, scores) => layers.forEach((l, i) => l.masks.setScores(j, scores[i]!)),
    });
    const phases: PhaseRecord[] = resume ? [...resume.position.phases] : [];
    this.taskInProgress = { phases, ...(transfer ? { transfer } : {}) };
    for (const [index, spec] of this.strategy.phases(task).entries()) {
      if (resume && index < resume.position.phase) continue;
      const options = this.params.registry.resolveOptions('phase', { id: spec.name, options: spec.options }, `strategy "${this.strategy.id}" phase ${index + 1}`);
      phases.push(await trainPhase(this.phaseHost(), task, index, { ...spec, options }, this.parts.phaseKind(spec.name), resume?.position.phase === index ? resume : undefined));
    }
    this.taskInProgress = undefined;
    await this.inference.learnTask?.(task);
    const recalibrationSeconds = recalibrateBatchNorm(this.backbone, task, this.config.batch_norm.recalibration_examples, this.config.batch_norm.batch_size, this.rng.child(`recalibrate/${t}`));
    const ownership = this.ownership.recordTask(t, await Promise.all(layers.map((l) => l.masks.readValues(t))), layers);
    // Compact task state: the final masks are stored bit-packed and the scores released
    // (a knowledge transfer that needs them keeps its own copy first).
    if (this.transfer.taskFinished) this.transfer.taskFinished(t, await Promise.all(layers.map((l) => l.masks.readScores(t))));
    for (const l of layers) l.masks.finish(t);
    this.backbone.finishTask?.(t);
    this.learnedTasks = t + 1;
    const maskBytes = layers.reduce((sum, l) => sum + l.masks.bytes(t).mask, 0);
    const backboneBytes = Object.values((await this.backbone.taskState?.(t)) ?? {}).reduce((sum, x) => sum + x.bytes.byteLength, 0);
    await this.emit('beforeEval', { afterTask: t });
    const evalStart = performance.now();
    const row: (number | null)[] = this.stream.tasks.map(() => null);
    for (let j = 0; j <= t; j++) row[j] = await evaluateTask(this.backbone, this.stream.tasks[j]!, this.stream.numClasses, this.config.evaluation.batch_size);
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
    await this.emit('afterTask', { task, record });
    return record;
  }

  /**
   * Evaluates every learned task without task ids, with the run's task inference or another
   * task_inference component (`ref`, built through the run's container); `batchSize` overrides
   * the inference's test batch size; `logger` gets `ref`'s warnings (taskInferenceWarnings).
   */
  async evaluateTaskInference(ref?: { id: string; options?: Record<string, unknown> }, batchSize?: number, logger?: Logger): Promise<TaskInferenceSummary> {
    let inference = ref ? this.parts.create<TaskInference>('task_inference', ref) : this.inference;
    // The run's own method under other options: what it learned while training carries over (state protocol).
    if (inference !== this.inference && inference.id === this.inference.id) adoptState(inference, this.inference);
    if (ref && logger) for (const warning of taskInferenceWarnings(inference, this.config)) logger.warn(warning);
    const learned = this.stream.tasks.slice(0, this.learnedTasks);
    const unseen = inference.learnTask ? learned.filter((t) => !inference.hasLearned?.(t.index)) : [];
    if (unseen.length > 0 && !ref) this.params.logger?.warn(`task inference "${inference.id}" has no state for task(s) ${unseen.map((t) => t.index + 1).join(', ')} (a checkpoint saved without it): learning it from the stream's training data`);
    for (const t of unseen) await inference.learnTask!(t);
    if (batchSize !== undefined) inference = Object.assign(Object.create(inference) as TaskInference, { batchSize });
    return evaluateAllInference(this.backbone, learned, inference, this.stream.numClasses, this.config.evaluation.batch_size);
  }

  /** Logits of the stream's classes for `x` under task `task`'s fixed mask (a new tensor; the caller disposes it). */
  logits(x: tf.Tensor, task: number): tf.Tensor2D {
    return taskLogits(this.backbone, x, task, this.stream.numClasses);
  }

  /** Accuracy on a task's test split with the true task id. */
  evaluate(task: Task): Promise<number> {
    return evaluateTask(this.backbone, task, this.stream.numClasses, this.config.evaluation.batch_size);
  }

  /** Writes the checkpoint of the finished tasks to `dir`; the size is recorded on the last task record. */
  async saveCheckpoint(dir: string): Promise<{ file: string; bytes: number }> {
    const saved = await this.saveState(dir);
    const last = this.taskRecords[this.learnedTasks - 1];
    if (last) last.checkpoint_bytes = saved.bytes;
    this.clock.reset();
    return saved;
  }

  /** Writes a mid-task checkpoint (the finished tasks and the task in progress at the loop's batch boundary) to the run directory. */
  private async saveMidTask(loop: LoopState): Promise<void> {
    const midTask = await captureMidTask(this.backbone, loop, this.taskInProgress ?? { phases: [] });
    await this.saveState(this.outDir!, midTask);
    this.clock.reset();
  }

  private saveState(dir: string, midTask?: Parameters<typeof saveRunState>[1]['midTask']): Promise<{ file: string; bytes: number }> {
    const run = { ...this.parts, config: this.config, learned: this.learnedTasks, components: this.statefulComponents(), accuracyMatrix: this.accuracyMatrix, taskRecords: this.taskRecords };
    return saveRunState(dir, { ...run, startedAt: this.startedAt, backend: this.backend, runId: this.runId, ...(midTask ? { midTask } : {}) });
  }

  /** The results so far, as written to results.json. */
  results(): ExperimentResults {
    return buildResults(this, {
      backendModule: this.backendSelection.module,
      backendAdapter: this.backendSelection.backend === 'webgpu' ? this.backendSelection.adapter : undefined,
      dataset: { name: this.dataset.name, source: this.dataset.source },
      startedAt: this.startedAt,
      inference: this.inferenceSummary,
      resumedFrom: this.resumedFrom,
      outcome: this.outcome,
    });
  }

  /** Releases every tensor the experiment holds. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.backbone.dispose();
    this.parts.container.dispose?.();
  }

  /** Every component that may have state, under its checkpoint key (the state protocol, see state.ts). */
  private statefulComponents(): StatefulEntry[] {
    const p = this.parts;
    const entries: StatefulEntry[] = [
      ['strategy', p.strategy],
      ['mask_scorer', p.scorer],
      ['ownership_policy', p.ownership],
      ['knowledge_transfer', p.transfer],
      ['task_inference', p.inference],
    ];
    for (const [id, kind] of p.phaseKinds) entries.push([`phase/${id}`, kind]);
    p.observers.forEach((o, i) => entries.push([`observers/${i}`, o]));
    return entries;
  }

  private statefulComponent(key: string): StatefulEntry[1] | undefined {
    if (key.startsWith('phase/')) return this.params.registry.has('phase', key.slice(6)) ? this.parts.phaseKind(key.slice(6)) : undefined;
    return this.statefulComponents().find(([k]) => k === key)?.[1];
  }

  private phaseHost() {
    return {
      config: this.config,
      backbone: this.backbone,
      ownership: this.ownership,
      strategyId: this.strategy.id,
      numClasses: this.stream.numClasses,
      normalization: this.dataset.normalization,
      rng: this.rng,
      learned: this.learnedTasks,
      emit: <K extends ObserverEvent>(event: K, info: EventInfo<K>) => this.emit(event, info),
      stopRequested: () => this.stopRequested,
      setPosition: (position: TrainingPosition | undefined) => {
        this.current = position;
      },
      ...(this.outDir && this.config.checkpoint.enabled ? { checkpoint: { due: () => this.clock.due(), step: () => this.clock.step(), save: (loop: LoopState) => this.saveMidTask(loop) } } : {}),
    };
  }

  private emit<K extends ObserverEvent>(event: K, info: EventInfo<K>): Promise<void> {
    return dispatch(this.observers, event, info, this);
  }
}
