import cliProgress from 'cli-progress';
import type { BatchInfo, EpochInfo, ExperimentPlugin, PhaseInfo, Task, TaskStream } from '@supermask/core';

export type Write = (line: string) => void;

function taskLabel(task: Task, stream: { tasks: unknown[] } | undefined): string {
  return `task ${task.index + 1}/${stream?.tasks.length ?? '?'}`;
}

/**
 * Live feedback. On a terminal: a progress bar per phase (epoch, batch, loss, samples/s).
 * Otherwise: plain log lines, one per epoch and one per evaluation.
 */
export class ProgressReporter implements ExperimentPlugin {
  readonly id = 'progress';
  private bar: cliProgress.SingleBar | undefined;
  private stream: TaskStream | undefined;
  private lastRender = 0;

  constructor(
    private readonly write: Write,
    private readonly tty: boolean,
    private readonly output: NodeJS.WritableStream = process.stderr,
  ) {}

  beforeExperiment(info: { stream: TaskStream; backend: string }): void {
    this.stream = info.stream;
    this.write(`stream ${info.stream.name}: ${info.stream.tasks.length} tasks, input ${info.stream.inputShape.join('x')}, ${info.stream.numClasses} outputs; backend ${info.backend}`);
  }

  beforeTask({ task }: { task: Task }): void {
    this.write(`${taskLabel(task, this.stream)}: ${task.name} (${task.train.n} train, ${task.test.n} test)`);
  }

  beforePhase(info: PhaseInfo): void {
    if (!this.tty) return;
    this.bar = new cliProgress.SingleBar(
      {
        format: `  ${info.phase.name} phase |{bar}| epoch {epoch}/${info.phase.epochs} batch {value}/{total} loss {loss} {sps} samples/s`,
        stream: this.output,
        hideCursor: true,
        clearOnComplete: true,
        barsize: 24,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(info.batchesPerEpoch, 0, { epoch: 1, loss: '-', sps: '-' });
  }

  beforeEpoch(info: PhaseInfo & { epoch: number }): void {
    this.bar?.update(0, { epoch: info.epoch + 1 });
  }

  afterBatch(info: BatchInfo): void {
    if (!this.bar) return;
    const now = Date.now();
    if (now - this.lastRender < 100 && info.batch + 1 < info.batchesPerEpoch) return;
    this.lastRender = now;
    this.bar.update(info.batch + 1, { loss: info.loss.toFixed(4), sps: Math.round(info.samplesPerSecond) });
  }

  afterEpoch(info: EpochInfo): void {
    const line = `  ${info.phase.name} phase epoch ${info.epoch + 1}/${info.phase.epochs}: loss ${info.loss.toFixed(4)}, train accuracy ${(100 * info.trainAccuracy).toFixed(2)}%, ${Math.round(info.samplesPerSecond)} samples/s`;
    if (this.bar) {
      this.bar.stop();
      this.bar = undefined;
      this.write(line);
      if (info.epoch + 1 < info.phase.epochs) this.beforePhase(info);
    } else this.write(line);
  }

  afterPhase(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  afterEval(info: { afterTask: number; accuracies: number[] }): void {
    this.write(`  accuracy after task ${info.afterTask + 1}: ${info.accuracies.map((a) => (100 * a).toFixed(2)).join(' ')}`);
  }
}
