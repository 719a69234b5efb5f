import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError, DataError, writeJsonAtomic } from '@supermask/core';

/** Where a point's run is: which task, phase and epoch it is training. */
export interface PointProgress {
  /** 1-based task being trained. */
  task: number;
  tasks?: number;
  phase?: string;
  /** 1-based epoch of the phase being trained. */
  epoch?: number;
  epochs?: number;
}

/** What a sweep keeps of a finished point's results.json. */
export interface PointResults {
  average_accuracy: number;
  forgetting: number;
  /** Fraction of the weights owned by some task after the last task (null: no ownership record). */
  capacity_used: number | null;
  /** Training and evaluation time of the run, summed over its tasks (a resumed run counts each task once). */
  seconds: number;
  backend: string;
  accuracy_matrix: (number | null)[][];
  /** Set when the run continued from a checkpoint: the tasks it found finished. */
  resumed_after_task?: number;
}

/** A point's run directory: finished (results.json), interrupted after a task (checkpoint.json), or not started. */
export type RunDirState = 'finished' | 'checkpoint' | 'new';

export function runDirState(dir: string): RunDirState {
  if (existsSync(join(dir, 'results.json'))) return 'finished';
  if (existsSync(join(dir, 'checkpoint.json'))) return 'checkpoint';
  return 'new';
}

export const POINT_CONFIG_FILE = 'config.json';

/**
 * Throws when the run directory already holds a config.json other than `config` (the sweep file
 * changed since): its results and checkpoint belong to another experiment.
 */
export function checkPointDir(dir: string, pointId: string, config: unknown): void {
  const file = join(dir, POINT_CONFIG_FILE);
  if (existsSync(file) && readFileSync(file, 'utf8') !== `${JSON.stringify(config, null, 2)}\n`) {
    throw new ConfigError(`point ${pointId}: ${file} holds a different config than the sweep gives this point (was the sweep file changed?); use another --out directory or remove ${dir}`, [], file);
  }
}

/** Makes the run directory and writes the point's resolved config into it as config.json (after checkPointDir). */
export function preparePointDir(dir: string, pointId: string, config: unknown): void {
  checkPointDir(dir, pointId, config);
  writePointConfig(dir, config);
}

/** Makes the run directory and writes config.json unless it is there (the caller has run checkPointDir). */
export function writePointConfig(dir: string, config: unknown): void {
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, POINT_CONFIG_FILE))) writeJsonAtomic(join(dir, POINT_CONFIG_FILE), config);
}

/** Reads the figures a sweep keeps from a finished run's results.json. */
export function readPointResults(dir: string): PointResults {
  const file = join(dir, 'results.json');
  let r: {
    average_accuracy: number;
    forgetting: number;
    backend: string;
    accuracy_matrix: (number | null)[][];
    ownership?: { capacity_used?: number };
    tasks: { phases: { seconds: number }[]; evaluation_seconds: number }[];
    resumed_from?: { completed_tasks: number };
  };
  try {
    r = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new DataError(`${file}: cannot be read as JSON (${(error as Error).message})`, file);
  }
  if (typeof r.average_accuracy !== 'number' || !Array.isArray(r.accuracy_matrix) || !Array.isArray(r.tasks)) {
    throw new DataError(`${file}: not a supermask results.json (average_accuracy, accuracy_matrix or tasks missing)`, file);
  }
  return {
    average_accuracy: r.average_accuracy,
    forgetting: r.forgetting,
    capacity_used: typeof r.ownership?.capacity_used === 'number' ? r.ownership.capacity_used : null,
    seconds: r.tasks.reduce((s, t) => s + t.phases.reduce((p, ph) => p + ph.seconds, 0) + t.evaluation_seconds, 0),
    backend: r.backend,
    accuracy_matrix: r.accuracy_matrix,
    ...(r.resumed_from ? { resumed_after_task: r.resumed_from.completed_tasks } : {}),
  };
}

/**
 * Loaded into every run process (`node --import`): a worker thread (its own event loop, so a busy
 * training loop does not delay it) that ends the run when the process that started it dies (a
 * killed sweep or worker: the run is re-parented), so no orphan keeps writing into a run
 * directory that another worker is about to resume.
 */
const WATCHDOG = `data:text/javascript,${encodeURIComponent(
  [
    "import { Worker } from 'node:worker_threads';",
    'const parent = Number(process.env.SUPERMASK_SWEEP_PARENT);',
    'if (parent > 0) new Worker(`setInterval(() => { if (process.ppid !== ${parent}) process.kill(process.pid, "SIGKILL"); }, 200);`, { eval: true }).unref();',
  ].join('\n'),
)}`;

export interface RunPointOptions {
  /** The `supermask` CLI entry (packages/cli/dist/bin.js). */
  bin: string;
  pointId: string;
  /** Run directory: holds config.json (see preparePointDir), then the run's files. */
  dir: string;
  dataDir?: string;
  backend?: string;
  /** Environment of the run process (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** ONNX Runtime threads of the run (SUPERMASK_ORT_THREADS). */
  ortThreads?: number;
  signal?: AbortSignal;
  onStart?: (info: { pid: number; resume: boolean }) => void;
  onProgress?: (progress: PointProgress) => void;
}

/** A run process that ended without results. */
export class PointFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'PointFailure';
  }
}

/**
 * Runs one point as a child process of the CLI (`supermask run --log-format json`): from its
 * config.json into a fresh run directory, or `--resume` from the checkpoint an interrupted run
 * left. Progress comes from the run's JSON events; the results from its results.json.
 */
export async function runPoint(opts: RunPointOptions): Promise<PointResults> {
  const state = runDirState(opts.dir);
  if (state === 'finished') return readPointResults(opts.dir);
  const resume = state === 'checkpoint';
  const args = resume ? ['run', '--resume', opts.dir] : ['run', '--config', join(opts.dir, POINT_CONFIG_FILE), '--out', opts.dir];
  args.push('--log-format', 'json');
  if (opts.dataDir) args.push('--data-dir', opts.dataDir);
  if (opts.backend) args.push('--backend', opts.backend);
  const env = { ...(opts.env ?? process.env), SUPERMASK_SWEEP_PARENT: String(process.pid), ...(opts.ortThreads ? { SUPERMASK_ORT_THREADS: String(opts.ortThreads) } : {}) };
  const child = spawn(process.execPath, ['--import', WATCHDOG, opts.bin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
    ...(opts.signal ? { signal: opts.signal, killSignal: 'SIGKILL' as const } : {}),
  });
  opts.onStart?.({ pid: child.pid ?? -1, resume });
  let tasks: number | undefined;
  let progress: PointProgress | undefined;
  const errors: string[] = [];
  const stderrTail: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    const report = (p: PointProgress) => {
      progress = p;
      opts.onProgress?.(p);
    };
    if (e.event === 'before_experiment') tasks = e.tasks as number;
    else if (e.event === 'before_task') report({ task: (e.task as number) + 1, tasks });
    else if (e.event === 'before_phase') report({ task: (e.task as number) + 1, tasks, phase: e.phase as string, epoch: 1, epochs: e.epochs as number });
    else if (e.event === 'after_epoch' && progress?.epochs !== undefined && (e.epoch as number) + 1 < progress.epochs) report({ ...progress, epoch: (e.epoch as number) + 2 });
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (line.startsWith('error: ')) errors.push(line.slice(7));
    stderrTail.push(line);
    if (stderrTail.length > 20) stderrTail.shift();
  });
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolvePromise) => {
    child.on('error', () => undefined);
    child.on('close', (c, s) => resolvePromise({ code: c, signal: s }));
  });
  if (code === 0 && runDirState(opts.dir) === 'finished') return readPointResults(opts.dir);
  const why = signal ? `killed by ${signal}` : `exit code ${code}`;
  const detail = errors.length > 0 ? errors.join('; ') : stderrTail.slice(-5).join(' | ');
  throw new PointFailure(`point ${opts.pointId}: run ${resume ? 'resumed from its checkpoint ' : ''}failed (${why})${detail ? `: ${detail}` : ''}`, code);
}
