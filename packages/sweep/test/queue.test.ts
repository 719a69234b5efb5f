import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatQueueStatus, queueStatus, readSweepState } from '@supermask/sweep';
import { alive, cli, HAVE_REDIS, killStarted, removeDir, startCli, startRedis, tempDir, tinyConfig, waitFor, writeJson, type Spawned } from './helpers.js';

if (!HAVE_REDIS) console.warn('queue tests skipped: no redis-server binary on PATH (Debian: apt-get install redis-server)');

describe.skipIf(!HAVE_REDIS)('supermask sweep --queue and supermask worker (real Redis)', () => {
  const dir = tempDir();
  let redis: { url: string; stop: () => Promise<void> };
  const workers: Spawned[] = [];
  const startWorker = async (...extra: string[]) => {
    const w = startCli(['worker', '--queue', redis.url, '--lock-ms', '1500', ...extra]);
    workers.push(w);
    await waitFor('the worker to listen', () => w.stderr().includes('waiting for points'), 30_000);
    return w;
  };
  const stopWorkers = async () => {
    for (const w of workers.splice(0)) {
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
      await w.exit;
    }
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await stopWorkers();
    killStarted();
    await redis?.stop();
    removeDir(dir);
  });

  it('6 points over 2 workers are all collected; a point that always fails is retried and reported failed', async () => {
    const empty = join(dir, 'no-data');
    writeJson(join(dir, 'tiny.json'), tinyConfig());
    const [w1, w2] = [await startWorker('--data-dir', empty), await startWorker('--data-dir', empty)];
    const file = join(dir, 'q.yaml');
    writeFileSync(
      file,
      [
        'name: q',
        'base: tiny.json',
        'zip:',
        '  mask_scorer.options.density: [0.05, 0.2, 0.1, 0.1]',
        '  dataset.options.source: [embedded, embedded, embedded, full]',
        'seeds: [0, 1]',
        'retry: { attempts: 2, backoff_seconds: 0.2 }',
      ].join('\n'),
    );
    const out = join(dir, 'q');
    const r = await cli(['sweep', file, '--out', out, '--queue', redis.url]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('2 of 8 points failed: density=0.1_source=full_seed=0, density=0.1_source=full_seed=1');
    const state = readSweepState(out);
    const done = state.points.filter((p) => p.state === 'done');
    expect(done.map((p) => p.id).sort()).toEqual(
      ['0.05', '0.2', '0.1'].flatMap((d) => [0, 1].map((s) => `density=${d}_source=embedded_seed=${s}`)).sort(),
    );
    for (const p of done) {
      const res = JSON.parse(readFileSync(join(out, p.dir, 'results.json'), 'utf8'));
      expect(p.results!.accuracy_matrix).toEqual(res.accuracy_matrix);
      expect(p.attempts).toBe(1);
    }
    expect(new Set(done.map((p) => p.worker)).size).toBe(2);
    for (const p of state.points.filter((q) => q.state === 'failed')) {
      expect(p.attempts).toBe(2);
      expect(p.error).toMatch(/exit code 3/);
      expect(p.error).toMatch(/Fashion-MNIST/);
    }
    expect(w1.stderr() + w2.stderr()).toMatch(/density=0\.1_source=full_seed=0: attempt failed/);
    expect(r.stdout).toMatch(/^0\.2 +embedded +2\/2 /m);
    expect(r.stdout).toMatch(/^0\.1 +full +0\/2 \(2 failed\)/m);
    const status = await cli(['sweep', 'status', '--queue', redis.url]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('0 waiting, 0 running, 6 done, 2 failed');
    await stopWorkers();
  });

  it('a worker SIGKILLed mid-run: its point completes once on the other worker, resumed from the shared run directory, with the accuracy matrix of an uninterrupted run', async () => {
    writeJson(join(dir, 'longer.json'), tinyConfig({ tasks: 3, train: 400, epochs: 2 }));
    const file = join(dir, 'kill.yaml');
    writeFileSync(file, 'name: kill\nbase: longer.json\nseeds: [7]\n');
    // The uninterrupted reference: the same point in the embedded pool.
    const reference = await cli(['sweep', file, '--out', join(dir, 'reference'), '--workers', '1']);
    expect(reference.code, reference.stderr).toBe(0);
    const expected = readSweepState(join(dir, 'reference')).points[0]!.results!.accuracy_matrix;

    const a = await startWorker();
    const out = join(dir, 'kill');
    const runDir = join(out, 'base_seed=7');
    const sweep = startCli(['sweep', file, '--out', out, '--queue', redis.url]);
    await waitFor('worker A past the first task', () => existsSync(join(runDir, 'checkpoint.json')), 120_000);
    a.child.kill('SIGKILL');
    // Until its lock expires the job stays with the dead worker, at the task it had reached.
    const running = formatQueueStatus(await queueStatus(redis.url), redis.url);
    const nameA = /worker (\S+): waiting/.exec(a.stderr())![1]!;
    expect(running).toMatch(new RegExp(`running +kill-[0-9a-f]{8}/base_seed=7 \\(attempt 1\\) on ${nameA}: task [1-3]/3( mask phase epoch [12]/2)?$`, "m"));
    const runPid = Number(/base_seed=7: started in .* \(pid (\d+)/.exec(a.stderr())![1]);
    await waitFor("the killed worker's run process to end", () => !alive(runPid), 10_000);
    const b = await startWorker();
    expect(existsSync(join(runDir, 'results.json'))).toBe(false);
    expect(await sweep.exit, sweep.stderr()).toBe(0);
    const point = readSweepState(out).points[0]!;
    expect(point.state).toBe('done');
    expect(point.results!.accuracy_matrix).toEqual(expected);
    expect(point.results!.resumed_after_task).toBeGreaterThanOrEqual(1);
    expect(b.stderr()).toContain('base_seed=7: resuming from its checkpoint');
    expect(b.stderr().match(/base_seed=7: done/g)).toHaveLength(1);
    expect(a.stderr()).not.toContain('base_seed=7: done');
    expect(point.worker).toBe(/worker (\S+): waiting/.exec(b.stderr())![1]);
    await stopWorkers();
  });

  it('a bad sweep file exits 2 naming the field and enqueues nothing', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'base: tiny.json\nzip:\n  mask_scorer.options.density: [0.1, 0.2]\n  strategy.id: [supsup]\n');
    const r = await cli(['sweep', file, '--out', join(dir, 'bad'), '--queue', redis.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('zip["strategy.id"]: has 1 values, expected 2');
    const status = await cli(['sweep', 'status', '--queue', redis.url, '--json']);
    expect((JSON.parse(status.stdout) as { sweep: string }[]).filter((j) => j.sweep.startsWith('bad'))).toEqual([]);
  });
});

