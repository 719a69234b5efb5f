import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RUN_LOCK, RunLock, readRunInfo } from '@supermask/core';
import { main, type CliIo } from '@supermask/cli';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'packages/cli/dist/bin.js');
const tmp = () => mkdtempSync(join(tmpdir(), 'supermask-rundir-cli-'));

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), isTTY: false, env: {} };
  const code = await main(args, io);
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const config = (epochs = 1, checkpoint = true) => ({
  name: 'owned',
  seed: 1,
  dataset: { id: 'fashion-mnist', options: { source: 'embedded' } },
  stream: { id: 'split', options: { tasks: 2, classes_per_task: 2, train_per_task: 128, test_per_task: 50 } },
  backbone: { id: 'lenet', options: { hidden: [32, 16] } },
  strategy: { id: 'supsup', options: { mask_phase: { epochs, lr: 0.01, batch_size: 64 } } },
  mask_scorer: { id: 'topk', options: { density: 0.1 } },
  checkpoint: { enabled: checkpoint },
});

function setup(epochs = 1, checkpoint = true) {
  const dir = tmp();
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config(epochs, checkpoint)));
  return { dir, file, out: join(dir, 'run') };
}

const json = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

describe('run directories', () => {
  it('a run is refused over an existing run unless --overwrite, which starts afresh; results and checkpoint carry one run id', async () => {
    const { file, out } = setup();
    expect((await cli(['run', '--config', file, '--out', out])).code).toBe(0);
    const first = json(join(out, 'results.json'));
    expect(first.run_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(json(join(out, 'checkpoint.json')).run_id).toBe(first.run_id);
    expect(readRunInfo(out)).toMatchObject({ run_id: first.run_id, status: 'finished', pid: process.pid, host: hostname() });
    expect(readRunInfo(out)?.command).toBe(`supermask run --config ${file} --out ${out}`);
    expect(existsSync(join(out, RUN_LOCK))).toBe(false);

    const refused = await cli(['run', '--config', file, '--out', out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${out} already holds a run (results.json, checkpoint.json)`);
    expect(refused.stderr).toContain('--overwrite');
    expect(json(join(out, 'results.json'))).toEqual(first);
    expect(readRunInfo(out)?.status).toBe('finished');

    writeFileSync(join(out, 'evaluation-oneshot.json'), '{}');
    const again = await cli(['run', '--config', file, '--out', out, '--overwrite']);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/--overwrite: removed the previous run's files/);
    const second = json(join(out, 'results.json'));
    expect(second.run_id).not.toBe(first.run_id);
    expect(json(join(out, 'checkpoint.json')).run_id).toBe(second.run_id);
    expect(existsSync(join(out, 'evaluation-oneshot.json'))).toBe(false);
    expect(second.accuracy_matrix).toEqual(first.accuracy_matrix);

    expect((await cli(['run', '--resume', out, '--overwrite'])).code).toBe(2);
  });

  it('a second writer is refused while the directory is locked; a stale lock is taken over', async () => {
    const { file, out } = setup();
    const lock = RunLock.acquire(out, { runId: 'holder', command: 'supermask run (other)' });
    const refused = await cli(['run', '--config', file, '--out', out]);
    lock.release();
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${out} is locked by another supermask process (pid ${process.pid} on ${hostname()}, run holder`);
    expect(existsSync(join(out, 'run.json'))).toBe(false);

    writeFileSync(join(out, RUN_LOCK), JSON.stringify({ pid: 2 ** 22 + 17, host: hostname(), run_id: 'dead', command: 'c', locked_at: 'then' }));
    const taken = await cli(['run', '--config', file, '--out', out]);
    expect(taken.code).toBe(0);
    expect(taken.stderr).toMatch(/warning: .*took over a stale lock of a process that is gone \(pid 4194321/);
    expect(existsSync(join(out, RUN_LOCK))).toBe(false);
  });

  it('report and eval refuse a directory whose results and checkpoint belong to different runs', async () => {
    const { file, dir } = setup();
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    expect((await cli(['run', '--config', file, '--out', a])).code).toBe(0);
    expect((await cli(['run', '--config', file, '--out', b])).code).toBe(0);
    writeFileSync(join(a, 'checkpoint.json'), readFileSync(join(b, 'checkpoint.json')));
    const idA = json(join(a, 'results.json')).run_id;
    const idB = json(join(b, 'results.json')).run_id;
    for (const args of [['report', a, '--out', join(dir, 'report')], ['eval', a, '--task-inference', 'oracle']]) {
      const r = await cli(args);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`${join(a, 'results.json')} belongs to run ${idA}`);
      expect(r.stderr).toContain(`${join(a, 'checkpoint.json')} to run ${idB}`);
    }
    expect(existsSync(join(dir, 'report'))).toBe(false);
    expect((await cli(['eval', b, '--task-inference', 'oracle'])).code).toBe(0);
  });

  it('a second process is refused while a run writes the directory; a run stopped by SIGTERM says so in run.json, and the lock is gone', async () => {
    // Without checkpoints (a stop writes a mid-task checkpoint otherwise: mid-task.test.ts).
    const { file, out } = setup(1000, false);
    const child = spawn(process.execPath, [bin, 'run', '--config', file, '--out', out], { cwd: root, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.on('exit', () => resolve());
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/epoch 1\/1000/.test(stderr)) resolve();
      });
    });
    expect(stderr).toMatch(/epoch 1\/1000/);
    expect(readRunInfo(out)?.status).toBe('running');
    expect(existsSync(join(out, RUN_LOCK))).toBe(true);
    // A second writer while the first process runs: refused, naming the running process.
    const second = await cli(['run', '--config', file, '--out', out, '--overwrite']);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`${out} is locked by another supermask process (pid ${child.pid} on ${hostname()}`);
    expect(readRunInfo(out)).toMatchObject({ status: 'running', pid: child.pid });
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(readRunInfo(out)).toMatchObject({ status: 'interrupted', reason: 'SIGTERM', pid: child.pid });
    expect(existsSync(join(out, RUN_LOCK))).toBe(false);
    // The run stopped at a batch boundary: results.json says so, and the CLI printed how to go on.
    expect(json(join(out, 'results.json')).outcome).toMatchObject({ status: 'interrupted', task: 1 });
    expect(stderr).toContain(`interrupted during task 1; continue with: supermask run --resume ${out}`);
    // Stopped without a checkpoint: --resume says what run.json records.
    const resume = await cli(['run', '--resume', out]);
    expect(resume.code).toBe(3);
    expect(resume.stderr).toContain(`${out} holds no checkpoint: its run (${readRunInfo(out)!.run_id}, status interrupted: SIGTERM, started`);
    expect(resume.stderr).toContain(`start it again with \`supermask run --config FILE --out ${out} --overwrite\``);
  });
});
