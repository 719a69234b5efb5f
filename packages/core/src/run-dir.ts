import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_MANIFEST, CHECKPOINT_TENSORS_FILE } from './checkpoint.js';
import { DataError } from './errors.js';
import { createFileExclusive, writeJsonAtomic } from './files.js';

/**
 * Run directories: who owns one (the lock), what it says about its run (run.json), which run its
 * files belong to (the run id in results.json and checkpoint.json), and what a new run may do to
 * a directory that already holds one.
 *
 * The lock is a file created atomically (`createFileExclusive`: link(2) of a complete file) holding the owner's pid, host
 * and run id. A lock whose pid is dead on this host is stale: it is taken over with a warning.
 * Locking packages that keep a lock alive by touching it on a timer (proper-lockfile) would see a
 * training loop that blocks the event loop for minutes as a dead owner, so the owner is judged by
 * its pid instead.
 */

export const RUN_LOCK = '.supermask.lock';
export const RUN_INFO = 'run.json';
export const RESULTS_FILE = 'results.json';

/** What the lock file holds. */
export interface RunLockInfo {
  pid: number;
  host: string;
  run_id: string;
  command: string;
  locked_at: string;
}

export type RunStatus = 'running' | 'finished' | 'interrupted' | 'failed';

/** run.json: written at the very start of a run and updated when it ends. */
export interface RunInfo {
  run_id: string;
  status: RunStatus;
  pid: number;
  host: string;
  started_at: string;
  /** The command line that started (or resumed) the run. */
  command: string;
  updated_at: string;
  finished_at?: string;
  /** The signal that stopped an interrupted run, or the message of a failed one. */
  reason?: string;
}

/** Another process holds the run directory. Exit code 2 (a usage problem: wait or pick another directory). */
export class RunLockedError extends Error {
  readonly exitCode = 2;
  constructor(message: string, readonly holder: RunLockInfo | undefined, readonly file: string) {
    super(message);
    this.name = 'RunLockedError';
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

function readLock(file: string): RunLockInfo | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<RunLockInfo>;
    if (typeof value.pid !== 'number' || typeof value.host !== 'string') return undefined;
    return value as RunLockInfo;
  } catch {
    return undefined;
  }
}

function describeHolder(h: RunLockInfo | undefined): string {
  return h ? `pid ${h.pid} on ${h.host}${h.run_id ? `, run ${h.run_id}` : ''}${h.locked_at ? `, since ${h.locked_at}` : ''}${h.command ? `: ${h.command}` : ''}` : 'an unreadable lock file';
}

/** An exclusive lock on a run directory, held until release(). */
export class RunLock {
  private released = false;
  private constructor(readonly dir: string, readonly file: string, readonly info: RunLockInfo) {}

  /**
   * Takes the lock of `dir` (creating the directory). A live holder is refused with a
   * RunLockedError naming the directory and the holder; a stale lock (its pid dead on this host)
   * is taken over and `warn` says so.
   */
  static acquire(dir: string, opts: { runId: string; command: string; warn?: (message: string) => void }): RunLock {
    const file = join(dir, RUN_LOCK);
    const info: RunLockInfo = { pid: process.pid, host: hostname(), run_id: opts.runId, command: opts.command, locked_at: new Date().toISOString() };
    const text = `${JSON.stringify(info, null, 2)}\n`;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (createFileExclusive(file, text)) return new RunLock(dir, file, info);
      const holder = readLock(file);
      const stale = holder !== undefined && holder.host === info.host && holder.pid !== process.pid && !processAlive(holder.pid);
      if (!stale) {
        throw new RunLockedError(
          `${dir} is locked by another supermask process (${describeHolder(holder)}); wait for it to end, or remove ${file} if that process is gone`,
          holder,
          file,
        );
      }
      // Move the stale lock aside under a unique name: of two processes taking it over, one rename wins.
      const aside = `${file}.stale.${process.pid}.${Date.now()}`;
      try {
        renameSync(file, aside);
      } catch {
        continue;
      }
      rmSync(aside, { force: true });
      opts.warn?.(`${dir}: took over a stale lock of a process that is gone (${describeHolder(holder)})`);
    }
    throw new RunLockedError(`${dir}: could not take the lock ${file} (other processes keep taking it)`, readLock(file), file);
  }

  /** Removes the lock file (only if it is still this process's lock). */
  release(): void {
    if (this.released) return;
    this.released = true;
    const current = readLock(this.file);
    if (current && current.pid === this.info.pid && current.host === this.info.host && current.run_id === this.info.run_id) rmSync(this.file, { force: true });
  }
}

function readJsonField(file: string, field: string): { present: boolean; value: unknown } {
  if (!existsSync(file)) return { present: false, value: undefined };
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
    return { present: true, value: parsed && typeof parsed === 'object' ? parsed[field] : undefined };
  } catch (error) {
    throw new DataError(`${file}: not valid JSON (${(error as Error).message})`, file);
  }
}

/** The files of `dir` that show it holds a run (results.json, checkpoint.json). */
export function runFilesIn(dir: string): string[] {
  return [RESULTS_FILE, CHECKPOINT_MANIFEST].filter((f) => existsSync(join(dir, f)));
}

/** The files a run writes into its directory (cleared by `run --overwrite`). */
function isRunFile(name: string): boolean {
  return (
    [RESULTS_FILE, CHECKPOINT_MANIFEST, RUN_INFO, 'accuracy_matrix.csv', 'report.html'].includes(name) ||
    CHECKPOINT_TENSORS_FILE.test(name) ||
    /^evaluation-.+\.json$/.test(name) ||
    /^\..+\.tmp$/.test(name)
  );
}

/**
 * Removes the files of the run held in `dir` (results, accuracy matrix, checkpoints,
 * evaluations, run.json, report.html and figures/, leftover temporary files); other files stay.
 * Call it holding the lock. Returns the names removed.
 */
export function clearRunFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    if (isRunFile(name) || name === 'figures') {
      rmSync(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}

/** The run id of the checkpoint in `dir` (undefined: no checkpoint, or one without a run id). */
export function checkpointRunId(dir: string): string | undefined {
  const v = readJsonField(join(dir, CHECKPOINT_MANIFEST), 'run_id').value;
  return typeof v === 'string' ? v : undefined;
}

/**
 * Checks that results.json and checkpoint.json of `dir` belong to the same run (the same
 * run_id). A directory with only one of them passes. Mixed files are a DataError (exit 3)
 * naming both files and their run ids.
 */
export function assertSameRun(dir: string): void {
  const resultsFile = join(dir, RESULTS_FILE);
  const checkpointFile = join(dir, CHECKPOINT_MANIFEST);
  const results = readJsonField(resultsFile, 'run_id');
  const checkpoint = readJsonField(checkpointFile, 'run_id');
  if (!results.present || !checkpoint.present || results.value === checkpoint.value) return;
  const id = (v: unknown) => (typeof v === 'string' ? v : 'no run id');
  throw new DataError(
    `${dir} mixes two runs: ${resultsFile} belongs to run ${id(results.value)} but ${checkpointFile} to run ${id(checkpoint.value)}; ` +
      'start the run again with `supermask run --overwrite`, or keep the files of one run only',
    resultsFile,
  );
}

/** Writes and updates `run.json` of a run directory (durably, each change atomic). */
export class RunInfoFile {
  readonly file: string;
  private info: RunInfo;

  constructor(dir: string, init: { runId: string; command: string }) {
    this.file = join(dir, RUN_INFO);
    const now = new Date().toISOString();
    this.info = { run_id: init.runId, status: 'running', pid: process.pid, host: hostname(), started_at: now, command: init.command, updated_at: now };
    writeJsonAtomic(this.file, this.info);
  }

  get status(): RunStatus {
    return this.info.status;
  }

  /** Records how the run ended. */
  finish(status: Exclude<RunStatus, 'running'>, reason?: string): void {
    const now = new Date().toISOString();
    this.info = { ...this.info, status, updated_at: now, finished_at: now, ...(reason !== undefined ? { reason } : {}) };
    writeJsonAtomic(this.file, this.info);
  }
}

/** Reads run.json of `dir` (undefined when there is none or it is unreadable). */
export function readRunInfo(dir: string): RunInfo | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, RUN_INFO), 'utf8')) as RunInfo;
  } catch {
    return undefined;
  }
}
