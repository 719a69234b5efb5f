import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINT_MANIFEST, clearRunFiles, DataError, readCheckpoint, readRunInfo, RunInfoFile, RunLock, runFilesIn, type LoadedCheckpoint, type Logger } from '@supermask/core';

import { UsageError } from './usage-error.js';

export { UsageError };

/** How `supermask run` treats its run directory. */
export type RunDirMode = 'new' | 'overwrite' | 'resume';

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * A run directory owned by this process for the length of a run: the lock taken, an existing run
 * refused (or cleared with --overwrite), run.json written at once with status `running`.
 * SIGINT/SIGTERM: once a run is under way (`stopWith`), the signal asks it to stop at the next
 * batch boundary and `signal` tells which one came; before that (data loading), run.json says
 * `interrupted` and the process exits at once. A second signal always exits at once.
 */
export class OwnedRunDir {
  private readonly lock: RunLock;
  private readonly info: RunInfoFile;
  private stop: (() => void) | undefined;
  /** The signal that asked the run to stop, if any. */
  signal: NodeJS.Signals | undefined;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (this.stop && this.signal === undefined) {
      this.signal = signal;
      this.stop();
      return;
    }
    this.end('interrupted', signal);
    process.exit(SIGNAL_EXIT[signal] ?? 1);
  };

  constructor(readonly dir: string, opts: { runId: string; command: string; mode: RunDirMode; logger: Logger }) {
    mkdirSync(dir, { recursive: true });
    this.lock = RunLock.acquire(dir, { runId: opts.runId, command: opts.command, warn: (m) => opts.logger.warn(m) });
    try {
      const existing = runFilesIn(dir);
      if (opts.mode === 'new' && existing.length > 0) {
        throw new UsageError(
          `${dir} already holds a run (${existing.join(', ')}): pass --overwrite to delete it and start a new run there, or continue it with --resume ${dir}`,
        );
      }
      if (opts.mode === 'overwrite') {
        const removed = clearRunFiles(dir);
        if (removed.length > 0) opts.logger.warn(`--overwrite: removed the previous run's files from ${dir}: ${removed.join(', ')}`);
      }
      this.info = new RunInfoFile(dir, { runId: opts.runId, command: opts.command });
    } catch (error) {
      this.lock.release();
      throw error;
    }
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** From now on a signal calls `stop` (the run stops at its next batch boundary) instead of exiting. */
  stopWith(stop: () => void): void {
    this.stop = stop;
  }

  /** Exit code of a run stopped by `signal` (130 for SIGINT, 143 for SIGTERM). */
  static exitCodeOf(signal: NodeJS.Signals): number {
    return SIGNAL_EXIT[signal] ?? 1;
  }

  get runInfoFile(): string {
    return join(this.dir, 'run.json');
  }

  /** Runs `step`; when it fails, run.json says `failed` (with the error) and the lock is released before the error goes on. */
  async guard<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      this.end('failed', error instanceof Error ? error.message : String(error));
      throw error;
    }
  }

  /** Records how the run ended in run.json and releases the lock (once). */
  end(status: 'finished' | 'interrupted' | 'failed', reason?: string): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    try {
      if (this.info.status === 'running') this.info.finish(status, reason);
    } finally {
      this.lock.release();
    }
  }
}

/**
 * The checkpoint `--resume DIR` continues from. A directory with run.json but no checkpoint (a run
 * stopped before its first task finished) is a DataError that says what run.json records.
 */
export function readResumable(dir: string): LoadedCheckpoint {
  const info = readRunInfo(dir);
  if (info && !existsSync(join(dir, CHECKPOINT_MANIFEST))) {
    throw new DataError(
      `${dir} holds no checkpoint: its run (${info.run_id}, status ${info.status}${info.reason ? `: ${info.reason}` : ''}, started ${info.started_at} by \`${info.command}\`) ended before it wrote a checkpoint (checkpoints are written at the end of each task, every checkpoint.every_steps steps / every_minutes minutes, and when a run is stopped, unless checkpoint.enabled is false), so there is nothing to resume; start it again with \`supermask run --config FILE --out ${dir} --overwrite\``,
      join(dir, CHECKPOINT_MANIFEST),
    );
  }
  return readCheckpoint(dir);
}

/** Runs `body` holding the lock of `dir` (for commands that write into a run directory without running it). */
export async function withRunLock<T>(dir: string, opts: { runId: string; command: string }, body: () => Promise<T>): Promise<T> {
  const lock = RunLock.acquire(dir, opts);
  try {
    return await body();
  } finally {
    lock.release();
  }
}
