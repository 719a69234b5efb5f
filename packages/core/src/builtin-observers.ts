import type { DependencyContainer } from 'tsyringe';
import type { ComponentState } from './contracts.js';
import type { Observer, RunView } from './observer.js';
import type { Registry } from './registry.js';
import { writeResults, type ExperimentResults } from './results.js';
import { runFiles } from './run-files.js';
import { TOKENS } from './tokens.js';

/** What the results and checkpoint observers write through (the running experiment). */
export interface RunWriter {
  /** Writes the checkpoint of the finished tasks into the run directory; records its size on the last task record. */
  saveCheckpoint(dir: string): Promise<{ file: string; bytes: number }>;
}

/*
 * The built-in observers write the run directory through RunFiles (run-files.ts), which core's
 * Node entry installs: without an outDir they write nothing, and this module imports no Node built-in.
 */

/** Writes results.json and accuracy_matrix.csv when the run ends (built in, on in every run directory). */
export const resultsObserver: Observer = {
  id: 'results',
  afterExperiment: ({ results }, run) => {
    if (run.outDir) writeResults(run.outDir, results);
  },
};

/** Writes a checkpoint after every task (built in, on in a run directory unless checkpoint.enabled is false). */
export function checkpointObserver(writer: RunWriter): Observer {
  return {
    id: 'checkpoint',
    afterTask: async (_info, run) => {
      if (run.outDir && run.config.checkpoint.enabled) await writer.saveCheckpoint(run.outDir);
    },
  };
}

/**
 * What an appending log file held when the last checkpoint was written: a resumed run cuts the
 * file back to it (`keep` lines after `header` lines), so the rows the resumed run writes again
 * (the task or epoch in progress at the crash) are not there twice.
 */
class LogLines {
  /** Lines written (after the header) by this run or the runs it resumes. */
  written = 0;
  private resumeAt: number | undefined;

  constructor(private readonly name: string, private readonly header: number) {}

  save(): ComponentState {
    return { json: { lines: this.written } };
  }

  load(state: ComponentState, owner: string): void {
    const lines = (state.json as { lines?: unknown } | null)?.lines;
    if (!Number.isInteger(lines) || (lines as number) < 0) throw new Error(`${owner}: expected { lines: a non-negative integer }, got ${JSON.stringify(state.json)}`);
    this.resumeAt = lines as number;
  }

  /** At the start of a resumed run: cuts the file back to what the checkpoint saw. */
  cut(dir: string): void {
    if (this.resumeAt === undefined) return;
    const files = runFiles();
    const text = files.read(dir, this.name);
    this.written = this.resumeAt;
    this.resumeAt = undefined;
    if (text === undefined) return;
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const keep = this.header + this.written;
    if (lines.length > keep) files.write(dir, this.name, lines.slice(0, keep).map((l) => `${l}\n`).join(''));
  }

  append(dir: string, text: string, lines: number): void {
    runFiles().append(dir, this.name, text);
    this.written += lines;
  }
}

export const METRICS_CSV = 'metrics.csv';
export const METRICS_COLUMNS = ['event', 'task', 'phase', 'epoch', 'loss', 'train_accuracy', 'test_accuracy', 'samples_per_second', 'lr', 'accuracies'] as const;

const cell = (x: number | string | undefined): string => (x === undefined ? '' : String(x));

/**
 * `metrics-csv`: metrics.csv in the run directory, one row per finished epoch (`event=epoch`) and
 * per evaluation after a task (`event=evaluation`, the accuracy-matrix row space-separated). The
 * header is written once; each row is appended and flushed as it comes. A resumed run first cuts
 * the file back to the rows its checkpoint had seen, so no epoch or evaluation appears twice.
 */
export class MetricsCsvObserver implements Observer {
  readonly id = 'metrics-csv';
  private readonly log = new LogLines(METRICS_CSV, 1);

  beforeExperiment(_info: unknown, run: RunView): void {
    if (!run.outDir) return;
    const files = runFiles();
    if (!files.exists(run.outDir, METRICS_CSV)) files.append(run.outDir, METRICS_CSV, `${METRICS_COLUMNS.join(',')}\n`);
    this.log.cut(run.outDir);
  }

  saveState(): ComponentState {
    return this.log.save();
  }

  loadState(state: ComponentState): void {
    this.log.load(state, 'metrics-csv');
  }

  afterEpoch(info: Parameters<NonNullable<Observer['afterEpoch']>>[0], run: RunView): void {
    this.row(run, ['epoch', info.task.index + 1, info.phase.name, info.epoch + 1, info.loss, info.trainAccuracy, info.testAccuracy, info.samplesPerSecond, info.lr, undefined]);
  }

  afterEval(info: Parameters<NonNullable<Observer['afterEval']>>[0], run: RunView): void {
    this.row(run, ['evaluation', info.afterTask + 1, undefined, undefined, undefined, undefined, undefined, undefined, undefined, info.accuracies.map(String).join(' ')]);
  }

  private row(run: RunView, cells: (number | string | undefined)[]): void {
    if (run.outDir) this.log.append(run.outDir, `${cells.map(cell).join(',')}\n`, 1);
  }
}

export const EVENTS_JSONL = 'events.jsonl';

/** A JSON-friendly summary of an event's info: tasks by index and name, no data arrays. */
function eventFields(info: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(info)) {
    if (key === 'task' && value && typeof value === 'object') {
      const task = value as { index: number; name: string };
      out.task = task.index + 1;
      out.task_name = task.name;
    } else if (key === 'stream' && value && typeof value === 'object') {
      const stream = value as { name: string; tasks: unknown[] };
      out.stream = { name: stream.name, tasks: stream.tasks.length };
    } else if (key === 'results' && value && typeof value === 'object') {
      const r = value as ExperimentResults;
      out.results = { average_accuracy: r.average_accuracy, forgetting: r.forgetting, tasks: r.tasks.length };
    } else if (key === 'afterTask' && typeof value === 'number') {
      out.task = value + 1;
    } else if ((key === 'epoch' || key === 'batch') && typeof value === 'number') {
      out[key] = value + 1;
    } else out[key] = value;
  }
  return out;
}

/**
 * `events-jsonl`: events.jsonl in the run directory, one JSON object per event
 * (`{"event": "afterEpoch", "time": ..., "task": 1, ...}`; tasks, epochs and batches 1-based).
 * Batch events are buffered and appended with the next other event (or a checkpoint). A resumed
 * run first cuts the file back to the events its checkpoint had seen, so none appears twice.
 */
export class EventsJsonlObserver implements Observer {
  readonly id = 'events-jsonl';
  private buffer: string[] = [];
  private readonly log = new LogLines(EVENTS_JSONL, 0);
  private dir: string | undefined;

  constructor() {
    const events = ['beforeExperiment', 'afterExperiment', 'beforeTask', 'afterTask', 'beforePhase', 'afterPhase', 'beforeEpoch', 'afterEpoch', 'beforeBatch', 'afterBatch', 'beforeEval', 'afterEval'] as const;
    for (const event of events) {
      (this as Record<string, unknown>)[event] = (info: Record<string, unknown>, run: RunView) => this.record(event, info, run);
    }
  }

  saveState(): ComponentState {
    this.flush();
    return this.log.save();
  }

  loadState(state: ComponentState): void {
    this.log.load(state, 'events-jsonl');
  }

  private record(event: string, info: Record<string, unknown>, run: RunView): void {
    if (!run.outDir) return;
    if (event === 'beforeExperiment') this.log.cut(run.outDir);
    this.dir = run.outDir;
    this.buffer.push(JSON.stringify({ event, time: new Date().toISOString(), ...eventFields(info) }));
    if (event !== 'beforeBatch' && event !== 'afterBatch') this.flush();
  }

  private flush(): void {
    if (!this.dir || this.buffer.length === 0) return;
    this.log.append(this.dir, `${this.buffer.join('\n')}\n`, this.buffer.length);
    this.buffer = [];
  }
}

const noOptions = { type: 'object', additionalProperties: false, properties: {} };

/** Registers the built-in observers. */
export function registerBuiltinObservers(registry: Registry): void {
  registry.register({ kind: 'observer', id: 'results', package: '@supermask/core', description: 'Writes results.json and accuracy_matrix.csv (always on in a run directory)', schema: noOptions, create: () => resultsObserver });
  registry.register({
    kind: 'observer',
    id: 'checkpoint',
    package: '@supermask/core',
    description: 'Writes a checkpoint after every task (on in a run directory unless checkpoint.enabled is false)',
    schema: noOptions,
    create: (_o, c: DependencyContainer) => checkpointObserver(c.resolve<RunWriter>(TOKENS.Run)),
  });
  registry.register({ kind: 'observer', id: 'metrics-csv', package: '@supermask/core', description: 'metrics.csv: a row per epoch and per evaluation', schema: noOptions, create: () => new MetricsCsvObserver() });
  registry.register({ kind: 'observer', id: 'events-jsonl', package: '@supermask/core', description: 'events.jsonl: one JSON object per event', schema: noOptions, create: () => new EventsJsonlObserver() });
}
