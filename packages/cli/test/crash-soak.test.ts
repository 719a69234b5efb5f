import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readCheckpoint, readSafetensors, Rng } from '@supermask/core';
import { metricsRows } from './helpers.js';

/**
 * Crash soak: a short ExSSNeT + KKT run (LeNet, embedded Fashion-MNIST, 3 tiny tasks, a mid-task
 * checkpoint every 3 steps) killed with SIGKILL at seeded random moments, resumed each time with
 * `supermask run --resume DIR`; after every kill every file of the run directory must parse (the
 * checkpoint consistent with its tensors file), and the finished run must hold the same accuracy
 * matrix and the same checkpoint bytes as an uninterrupted run. `npm run soak` runs it with
 * SUPERMASK_SOAK_KILLS=100 (and writes SUPERMASK_SOAK_REPORT).
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'packages/cli/dist/bin.js');
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
const KILLS = Number(process.env.SUPERMASK_SOAK_KILLS ?? 20);
const SEED = Number(process.env.SUPERMASK_SOAK_SEED ?? 16);
const REPORT = process.env.SUPERMASK_SOAK_REPORT;

const config = {
  name: 'crash-soak',
  seed: 4,
  backend: 'cpu-plain',
  dataset: { id: 'fashion-mnist', options: { source: 'embedded' } },
  stream: { id: 'split', options: { tasks: 3, classes_per_task: 2, train_per_task: 96, test_per_task: 40 } },
  backbone: { id: 'lenet', options: { hidden: [32, 16] } },
  strategy: { id: 'exssnet', options: { mask_phase: { epochs: 2, lr: 0.01, batch_size: 16 }, weight_phase: { epochs: 1, lr: 0.001, batch_size: 16 } } },
  mask_scorer: { id: 'topk', options: { density: 0.1 } },
  knowledge_transfer: { id: 'kkt', options: { k: 5 } },
  checkpoint: { every_steps: 3 },
};

interface Proc {
  /** Resolves when the process prints its first training progress (an after_batch event), or at exit. */
  started: Promise<number>;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  stdout: () => string;
  stderr: () => string;
}

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [bin, ...args, '--log-format', 'json'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = new Promise<number>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"event":"after_batch"')) resolve(performance.now());
    });
    void exited.then(() => resolve(performance.now()));
  });
  child.stderr.on('data', (d: Buffer) => void (err += d.toString()));
  return { started, exited, kill: (s) => child.kill(s), stdout: () => out, stderr: () => err };
}

/**
 * Parses every file of a run directory as what it is; throws naming the file when one does not.
 * Temporary files of interrupted atomic writes (`.NAME.PID.TIME.N.tmp`) are counted: nothing
 * reads them and `run --overwrite` removes them.
 */
function checkRunDir(dir: string): { files: number; temporary: number } {
  let files = 0;
  let temporary = 0;
  for (const f of readdirSync(dir)) {
    const file = join(dir, f);
    try {
      if (/^\..+\.tmp$/.test(f)) temporary++;
      else if (f === 'checkpoint.json') readCheckpoint(dir);
      else if (f.endsWith('.json') || f === '.supermask.lock') JSON.parse(readFileSync(file, 'utf8'));
      else if (f.endsWith('.jsonl')) for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) JSON.parse(line);
      else if (f.endsWith('.safetensors')) readSafetensors(file);
      else if (f.endsWith('.csv')) {
        const lines = readFileSync(file, 'utf8').split('\n');
        if (lines.at(-1) !== '') throw new Error('does not end with a newline');
        const width = lines[0]!.split(',').length;
        for (const line of lines.slice(1, -1)) if (line.split(',').length !== width) throw new Error(`row "${line}" has not ${width} cells`);
      } else throw new Error('unexpected file');
      files++;
    } catch (error) {
      throw new Error(`${file}: ${(error as Error).message}`);
    }
  }
  return { files, temporary };
}

/** Where the checkpoint of `dir` stands: `t2 mask e1 b4` (task in progress, 1-based), `after t1`, or `none`; `task`: the task (0-based) a resume trains next. */
function checkpointAt(dir: string): { checkpoint: string; task: number } {
  if (!existsSync(join(dir, 'checkpoint.json'))) return { checkpoint: 'none', task: 0 };
  const m = readCheckpoint(dir).manifest;
  const p = m.position;
  return { checkpoint: p ? `t${p.task + 1} ${p.phase_name} e${p.epoch + 1} b${p.batch + 1}` : `after t${m.completed_tasks}`, task: m.completed_tasks };
}

const tensorBytes = (dir: string) => new Map([...readCheckpoint(dir).tensors].map(([name, t]) => [name, Buffer.from(t.bytes).toString('hex')]));
const results = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));

describe('crash soak', () => {
  const dir = mkdtempSync(join(tmpdir(), 'supermask-soak-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const reference = join(dir, 'reference');
  let trainSeconds = 0;

  it('an uninterrupted reference run', async () => {
    const p = start(['run', '--config', file, '--out', reference]);
    const t0 = await p.started;
    expect(await p.exited).toBe(0);
    trainSeconds = (performance.now() - t0) / 1000;
    expect(results(reference).outcome).toEqual({ status: 'completed' });
  });

  it.skipIf(process.env.SUPERMASK_SOAK_ONLY)('SIGINT mid-task: a checkpoint at the batch boundary, exit 130; resumed, the same accuracy matrix and checkpoint bytes', async () => {
    const out = join(dir, 'sigint');
    const p = start(['run', '--config', file, '--out', out]);
    // Stop during task 2, once its first batches have trained.
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (/"event":"after_batch"[^\n]*"task":1,"phase":"mask","epoch":0,"batch":[1-9]/.test(p.stdout())) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
      void p.exited.then(() => clearInterval(timer));
    });
    p.kill('SIGINT');
    expect(await p.exited).toBe(130);
    const m = readCheckpoint(out).manifest;
    expect(m.format_version).toBe(2);
    expect(m.completed_tasks).toBe(1);
    expect(m.position).toMatchObject({ task: 1 });
    expect(results(out).outcome).toMatchObject({ status: 'interrupted', task: 2, phase: m.position!.phase_name, epoch: m.position!.epoch + 1, batch: m.position!.batch + 1 });
    expect(p.stdout()).toContain(`"resume":"supermask run --resume ${out}"`);
    const resumed = start(['run', '--resume', out]);
    expect(await resumed.exited).toBe(0);
    expect(resumed.stdout()).toContain(`resuming ${out} after task 1 of 3, in task 2 at phase ${m.position!.phase_name}, epoch ${m.position!.epoch + 1}, batch ${m.position!.batch + 1}`);
    expect(results(out).accuracy_matrix).toEqual(results(reference).accuracy_matrix);
    expect(tensorBytes(out)).toEqual(tensorBytes(reference));
  });

  it(`SIGKILL at ${KILLS} seeded random moments, resumed each time: every file parses after every kill, and each run ends as the uninterrupted one`, async () => {
    const rng = new Rng(SEED);
    // Each process is killed a random time in [0, T / 4] after its first progress line (T: the
    // reference's time from there to its end), so kills land all over the run; a run that
    // finishes before its kill is checked against the reference and the next run starts afresh.
    const maxDelay = (trainSeconds * 1000) / 4;
    const kills: { kill: number; run: number; delay_ms: number; checkpoint: string; task: number; files: number; temporary: number }[] = [];
    const finished: string[] = [];
    const started = performance.now();
    let round = 1;
    const out = () => join(dir, `killed-${round}`);
    const next = () => start(existsSync(join(out(), 'checkpoint.json')) ? ['run', '--resume', out()] : ['run', '--config', file, '--out', out(), '--overwrite']);
    const finishedRun = () => {
      checkRunDir(out());
      expect(results(out()).accuracy_matrix).toEqual(results(reference).accuracy_matrix);
      expect(tensorBytes(out())).toEqual(tensorBytes(reference));
      expect(metricsRows(out())).toEqual(metricsRows(reference));
      finished.push(out());
      round++;
    };
    while (kills.length < KILLS) {
      const p = next();
      await p.started;
      const delay = rng.uniform(0, maxDelay);
      await new Promise((resolve) => setTimeout(resolve, delay));
      p.kill('SIGKILL');
      const code = await p.exited;
      if (code === 0) {
        finishedRun();
        continue;
      }
      expect(code, p.stderr()).toBeNull();
      kills.push({ kill: kills.length + 1, run: round, delay_ms: Math.round(delay), ...checkpointAt(out()), ...checkRunDir(out()) });
    }
    const last = next();
    expect(await last.exited, last.stderr()).toBe(0);
    finishedRun();
    const seconds = (performance.now() - started) / 1000;
    if (REPORT) writeFileSync(REPORT, JSON.stringify({ kills, runs: finished.length, seed: SEED, seconds, load_average: loadavg(), reference_train_seconds: trainSeconds, accuracy_matrix: results(reference).accuracy_matrix, same_matrix: true }));
    // The kills landed in more than one task, mid-task and at several batch positions.
    expect(new Set(kills.map((k) => k.task)).size).toBeGreaterThanOrEqual(2);
    expect(kills.some((k) => / b\d+$/.test(k.checkpoint))).toBe(true);
    expect(new Set(kills.map((k) => k.checkpoint)).size).toBeGreaterThanOrEqual(Math.min(5, KILLS / 4));
  }, 60_000 + KILLS * 15_000);
});
