import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertSameRun, clearRunFiles, DataError, exitCodeOf, RUN_LOCK, RunInfoFile, RunLock, RunLockedError, readRunInfo, runFilesIn } from '@supermask/core';

const tmp = () => mkdtempSync(join(tmpdir(), 'supermask-rundir-'));

/** The pid of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('run directory lock', () => {
  it('is exclusive: a second owner is refused with exit code 2, naming the directory and the holder', () => {
    const dir = join(tmp(), 'run');
    const lock = RunLock.acquire(dir, { runId: 'run-a', command: 'supermask run a' });
    const held = JSON.parse(readFileSync(join(dir, RUN_LOCK), 'utf8'));
    expect(held).toMatchObject({ pid: process.pid, host: hostname(), run_id: 'run-a', command: 'supermask run a' });
    let error: unknown;
    try {
      RunLock.acquire(dir, { runId: 'run-b', command: 'supermask run b' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RunLockedError);
    expect(exitCodeOf(error)).toBe(2);
    expect((error as Error).message).toContain(dir);
    expect((error as Error).message).toContain(`pid ${process.pid} on ${hostname()}`);
    expect((error as Error).message).toContain('supermask run a');
    lock.release();
    expect(existsSync(join(dir, RUN_LOCK))).toBe(false);
    RunLock.acquire(dir, { runId: 'run-b', command: 'b' }).release();
  });

  it('takes over a stale lock (its pid dead on this host) with a warning', () => {
    const dir = tmp();
    const pid = deadPid();
    writeFileSync(join(dir, RUN_LOCK), JSON.stringify({ pid, host: hostname(), run_id: 'old', command: 'supermask run old', locked_at: '2026-01-01T00:00:00Z' }));
    const warnings: string[] = [];
    const lock = RunLock.acquire(dir, { runId: 'new', command: 'c', warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`took over a stale lock`);
    expect(warnings[0]).toContain(`pid ${pid}`);
    expect(JSON.parse(readFileSync(join(dir, RUN_LOCK), 'utf8')).run_id).toBe('new');
    expect(readdirSync(dir)).toEqual([RUN_LOCK]);
    lock.release();
  });

  it('refuses a lock of another host (its pid cannot be checked) and an unreadable lock', () => {
    const dir = tmp();
    writeFileSync(join(dir, RUN_LOCK), JSON.stringify({ pid: deadPid(), host: `${hostname()}-elsewhere`, run_id: 'x', command: 'c', locked_at: 'now' }));
    expect(() => RunLock.acquire(dir, { runId: 'y', command: 'c' })).toThrow(/-elsewhere/);
    writeFileSync(join(dir, RUN_LOCK), 'garbage');
    expect(() => RunLock.acquire(dir, { runId: 'y', command: 'c' })).toThrow(new RegExp(`remove ${join(dir, RUN_LOCK)}`));
  });

  it('does not remove a lock another process took over', () => {
    const dir = tmp();
    const lock = RunLock.acquire(dir, { runId: 'a', command: 'c' });
    writeFileSync(join(dir, RUN_LOCK), JSON.stringify({ pid: 1, host: hostname(), run_id: 'other', command: 'c', locked_at: 'now' }));
    lock.release();
    expect(existsSync(join(dir, RUN_LOCK))).toBe(true);
  });
});

describe('run directory contents', () => {
  it('run.json says running at the start and how the run ended', () => {
    const dir = tmp();
    const info = new RunInfoFile(dir, { runId: 'id-1', command: 'supermask run --out x' });
    expect(readRunInfo(dir)).toMatchObject({ run_id: 'id-1', status: 'running', pid: process.pid, host: hostname(), command: 'supermask run --out x' });
    info.finish('interrupted', 'SIGTERM');
    expect(readRunInfo(dir)).toMatchObject({ status: 'interrupted', reason: 'SIGTERM' });
    expect(readRunInfo(dir)?.finished_at).toBeTypeOf('string');
  });

  it('finds a run, clears only its files, and refuses results and checkpoint of different runs', () => {
    const dir = tmp();
    expect(runFilesIn(dir)).toEqual([]);
    writeFileSync(join(dir, 'results.json'), JSON.stringify({ run_id: 'a' }));
    writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ run_id: 'a' }));
    expect(runFilesIn(dir)).toEqual(['results.json', 'checkpoint.json']);
    assertSameRun(dir);
    writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ run_id: 'b' }));
    let error: unknown;
    try {
      assertSameRun(dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DataError);
    expect(exitCodeOf(error)).toBe(3);
    expect((error as Error).message).toContain(`${join(dir, 'results.json')} belongs to run a`);
    expect((error as Error).message).toContain(`${join(dir, 'checkpoint.json')} to run b`);
    // A results.json without a run id next to a checkpoint with one: mixed too.
    writeFileSync(join(dir, 'results.json'), JSON.stringify({}));
    expect(() => assertSameRun(dir)).toThrow(/belongs to run no run id/);

    for (const f of ['accuracy_matrix.csv', 'run.json', 'checkpoint-task-0002.safetensors', 'evaluation-oneshot.json', 'report.html', '.results.json.1.2.3.tmp', 'config.json', 'notes.txt']) writeFileSync(join(dir, f), '');
    mkdirSync(join(dir, 'figures'));
    expect(clearRunFiles(dir).sort()).toEqual(['.results.json.1.2.3.tmp', 'accuracy_matrix.csv', 'checkpoint-task-0002.safetensors', 'checkpoint.json', 'evaluation-oneshot.json', 'figures', 'report.html', 'results.json', 'run.json']);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'notes.txt']);
  });
});
