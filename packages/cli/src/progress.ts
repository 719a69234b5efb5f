import cliProgress from 'cli-progress';
import type { BatchInfo, EpochInfo, EvalInfo, Observer, PhaseInfo, Task, TaskRecord, TaskStream } from '@supermask/core';

export type Write = (line: string) => void;
export type LogFormat = 'text' | 'json';

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

/**
 * Live feedback in text. On a terminal: a bar over the tasks and a bar over the current phase
 * (epoch, batch, loss, accuracy, samples/s), with a log line per epoch and evaluation above them.
 * cli-progress redraws from a timer (10 per second), which runs because the training loop yields
 * to the event loop about every 100 ms of work. The bars hide the cursor; `stop()` (called at the
 * end of the run, on error and on interruption) shows it again, and so does the process's `exit`
 * event if the process ends without it (a second Ctrl-C exits at once).
 * Not on a terminal: the same log lines only, nothing else.
 */
export class ProgressReporter implements Observer {
  readonly id = 'progress';
  private multibar: cliProgress.MultiBar | undefined;
  private taskBar: cliProgress.SingleBar | undefined;
  private phaseBar: cliProgress.SingleBar | undefined;
  private stream: TaskStream | undefined;
  private lastRender = 0;
  private readonly restoreCursor = () => {
    this.output.write('\x1b[?25h');
  };

  constructor(
    private readonly write: Write,
    private readonly tty: boolean,
    private readonly output: NodeJS.WritableStream = process.stderr,
  ) {}

  /** A log line: above the bars while they show, else written as it is. */
  log(line: string): void {
    if (this.multibar) this.multibar.log(`${line}\n`);
    else this.write(line);
  }

  beforeExperiment(info: { stream: TaskStream; backend: string }): void {
    this.stream = info.stream;
    this.write(`stream ${info.stream.name}: ${info.stream.tasks.length} tasks, input ${info.stream.inputShape.join('x')}, ${info.stream.numClasses} outputs; backend ${info.backend}`);
    if (!this.tty) return;
    this.multibar = new cliProgress.MultiBar(
      { stream: this.output, hideCursor: true, clearOnComplete: true, barsize: 24, format: '{label} |{bar}| {detail}' },
      cliProgress.Presets.shades_classic,
    );
    this.taskBar = this.multibar.create(info.stream.tasks.length, 0, { label: 'tasks      ', detail: '' });
    process.once('exit', this.restoreCursor);
  }

  beforeTask({ task }: { task: Task }): void {
    this.log(`task ${task.index + 1}/${this.stream?.tasks.length ?? '?'}: ${task.name} (${task.train.n} train, ${task.test.n} test)`);
    this.taskBar?.update(task.index, { detail: `${task.index}/${this.stream?.tasks.length} tasks, now ${task.name}` });
  }

  beforePhase(info: PhaseInfo): void {
    if (!this.multibar) return;
    this.phaseBar = this.multibar.create(info.batchesPerEpoch, 0, { label: `${info.phase.name} phase`.padEnd(11), detail: `epoch 1/${info.phase.epochs}` });
  }

  beforeEpoch(info: PhaseInfo & { epoch: number }): void {
    this.phaseBar?.update(0, { detail: `epoch ${info.epoch + 1}/${info.phase.epochs}` });
  }

  afterBatch(info: BatchInfo): void {
    if (!this.phaseBar) return;
    const now = Date.now();
    if (now - this.lastRender < 100 && info.batch + 1 < info.batchesPerEpoch) return;
    this.lastRender = now;
    this.phaseBar.update(info.batch + 1, {
      detail: `epoch ${info.epoch + 1}/${info.phase.epochs} batch ${info.batch + 1}/${info.batchesPerEpoch} loss ${info.loss.toFixed(4)} acc ${pct(info.trainAccuracy)} ${Math.round(info.samplesPerSecond)} samples/s`,
    });
  }

  afterEpoch(info: EpochInfo): void {
    const test = info.testAccuracy !== undefined ? `, test accuracy ${pct(info.testAccuracy)}` : '';
    this.log(`  ${info.phase.name} phase epoch ${info.epoch + 1}/${info.phase.epochs}: loss ${info.loss.toFixed(4)}, train accuracy ${pct(info.trainAccuracy)}${test}, ${Math.round(info.samplesPerSecond)} samples/s`);
  }

  afterPhase(): void {
    if (this.phaseBar && this.multibar) this.multibar.remove(this.phaseBar);
    this.phaseBar = undefined;
  }

  afterEval(info: EvalInfo): void {
    this.log(`  accuracy after task ${info.afterTask + 1}: ${info.accuracies.map((a) => (100 * a).toFixed(2)).join(' ')}`);
  }

  afterTask({ task }: { task: Task }): void {
    this.taskBar?.update(task.index + 1, { detail: `${task.index + 1}/${this.stream?.tasks.length} tasks` });
  }

  afterExperiment(): void {
    this.stop();
  }

  /** Removes the bars (flushing the log lines above them) and shows the cursor again; idempotent. */
  stop(): void {
    if (!this.multibar) return;
    this.multibar.update(); // flushes the log lines not drawn yet
    this.multibar.stop();
    this.multibar = undefined;
    this.taskBar = undefined;
    this.phaseBar = undefined;
    process.off('exit', this.restoreCursor);
  }
}

/**
 * Structured logs for machines: one JSON object per line for every event (batch progress at most
 * every `batchEvery` batches), with `event` in snake case and a timestamp.
 */
export class JsonLinesLogger implements Observer {
  readonly id = 'json-log';

  constructor(
    private readonly write: Write,
    private readonly batchEvery = 50,
  ) {}

  emit(event: string, fields: Record<string, unknown>): void {
    this.write(JSON.stringify({ event, time: new Date().toISOString(), ...fields }));
  }

  private phase(info: PhaseInfo) {
    return { task: info.task.index, phase: info.phase.name };
  }

  beforeExperiment(info: { stream: TaskStream; backend: string }): void {
    this.emit('before_experiment', { stream: info.stream.name, tasks: info.stream.tasks.length, input_shape: info.stream.inputShape, num_classes: info.stream.numClasses, backend: info.backend });
  }

  beforeTask({ task }: { task: Task }): void {
    this.emit('before_task', { task: task.index, name: task.name, classes: task.classes, train_examples: task.train.n, test_examples: task.test.n });
  }

  beforePhase(info: PhaseInfo): void {
    this.emit('before_phase', { ...this.phase(info), epochs: info.phase.epochs, lr: info.phase.lr, optimizer: info.phase.optimizer, batch_size: info.phase.batch_size, batches_per_epoch: info.batchesPerEpoch });
  }

  afterBatch(info: BatchInfo): void {
    if ((info.batch + 1) % this.batchEvery !== 0 && info.batch + 1 !== info.batchesPerEpoch) return;
    this.emit('after_batch', { ...this.phase(info), epoch: info.epoch, batch: info.batch, loss: info.loss, train_accuracy: info.trainAccuracy, samples_per_second: info.samplesPerSecond });
  }

  afterEpoch(info: EpochInfo): void {
    this.emit('after_epoch', {
      ...this.phase(info),
      epoch: info.epoch,
      loss: info.loss,
      train_accuracy: info.trainAccuracy,
      ...(info.testAccuracy !== undefined ? { test_accuracy: info.testAccuracy } : {}),
      samples_per_second: info.samplesPerSecond,
    });
  }

  afterPhase(info: PhaseInfo & { seconds: number; samplesPerSecond: number }): void {
    this.emit('after_phase', { ...this.phase(info), seconds: info.seconds, samples_per_second: info.samplesPerSecond });
  }

  afterEval(info: EvalInfo): void {
    this.emit('after_eval', { after_task: info.afterTask, accuracies: info.accuracies });
  }

  afterTask({ task, record }: { task: Task; record: unknown }): void {
    const r = record as TaskRecord;
    this.emit('after_task', { task: task.index, evaluation_seconds: r.evaluation_seconds, state_bytes: r.state_bytes, ...(r.transfer ? { transfer: r.transfer } : {}) });
  }
}
