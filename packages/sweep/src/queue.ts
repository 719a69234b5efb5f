import { createHash } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker, type ConnectionOptions, type Job, type JobsOptions } from 'bullmq';
import { ConfigError } from '@supermask/core';
import { describeResults, type PointRunOptions } from './local.js';
import { collectFinished, type SweepPlan } from './plan.js';
import { preparePointDir, runPoint, type PointProgress, type PointResults } from './run-point.js';
import { writeSweepState, type PointRecord, type PointState, type SweepState } from './state.js';

/** The BullMQ queue every sweep and worker uses. */
export const QUEUE_NAME = 'supermask-points';

/** What a job carries: one point of a sweep. */
export interface PointJobData {
  /** Sweep key: name and a hash of the sweep directory (jobs of different sweeps never clash). */
  sweep: string;
  point: string;
  /** The point's run directory as the sweep sees it (used when the worker has no --runs-dir). */
  dir: string;
  /** The point's resolved config. */
  config: unknown;
}

/** A job's progress: the worker and where the run is. */
export type PointJobProgress = PointProgress & { worker: string };

/** Connection options from `redis://HOST:PORT[/DB]`; anything else is a ConfigError (exit 2). */
export function redisConnection(url: string): ConnectionOptions & { host: string; port: number; db: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`--queue ${url}: expected redis://HOST:PORT[/DB]`);
  }
  const db = u.pathname.replace(/^\//, '');
  if (u.protocol !== 'redis:' || !u.hostname || (db !== '' && !/^\d+$/.test(db))) throw new ConfigError(`--queue ${url}: expected redis://HOST:PORT[/DB]`);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    db: db ? Number(db) : 0,
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    maxRetriesPerRequest: null,
  };
}

/** Waits until the queue's connection is up; an unreachable server is an error naming the URL and the cause. */
async function connected(queue: Queue, url: string, timeoutMs = 5000): Promise<void> {
  let last = '';
  queue.on('error', (error) => (last = error.message));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`cannot reach Redis at ${url} within ${timeoutMs / 1000} s${last ? ` (${last})` : ''}`)), timeoutMs);
  });
  try {
    await Promise.race([queue.waitUntilReady().then(() => queue.getJobCounts('active')), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Checks that the queue's Redis answers (before a sweep writes anything). */
export async function checkQueue(url: string): Promise<void> {
  const queue = new Queue(QUEUE_NAME, { connection: redisConnection(url) });
  try {
    await connected(queue, url);
  } finally {
    await queue.close().catch(() => undefined);
  }
}

export const sweepKey = (name: string, outDir: string) => `${name}-${createHash('sha256').update(outDir).digest('hex').slice(0, 8)}`;
const jobId = (sweep: string, point: string) => `${sweep}.${point}`;

const STATE_OF: Record<string, PointState> = { completed: 'done', failed: 'failed', active: 'running' };

export interface QueuedSweepOptions {
  queue: string;
  log: (line: string) => void;
  /** How often the sweep looks at its jobs (default 500 ms). */
  pollMs?: number;
}

/**
 * The distributed executor: adds each point that has no results yet as a BullMQ job (one job id
 * per point, so a second invocation finds the jobs it added before; failed ones are retried),
 * then follows the jobs until every point is done or failed, keeping sweep.json up to date.
 */
export async function runQueuedSweep(plan: SweepPlan, opts: QueuedSweepOptions): Promise<SweepState> {
  const { state, outDir, spec } = plan;
  const queue = new Queue<PointJobData, PointResults>(QUEUE_NAME, { connection: redisConnection(opts.queue) });
  try {
    await connected(queue, opts.queue);
    const key = sweepKey(spec.name, outDir);
    const jobOptions: JobsOptions = {
      attempts: spec.retry.attempts,
      backoff: { type: 'exponential', delay: spec.retry.backoff_seconds * 1000 },
      removeOnComplete: false,
      removeOnFail: false,
    };
    const pending = new Map<string, { id: string; record: PointRecord }>();
    for (const [record, point] of collectFinished(plan, opts.log)) {
      const id = jobId(key, record.id);
      const existing = await queue.getJob(id);
      if (existing && (await existing.getState()) === 'failed') {
        await existing.retry('failed');
        opts.log(`${record.id}: failed before, queued again`);
      } else if (!existing) await queue.add(record.id, { sweep: key, point: record.id, dir: point.dir, config: point.resolved }, { ...jobOptions, jobId: id });
      pending.set(record.id, { id, record });
    }
    opts.log(`sweep ${spec.name}: ${state.points.length} points, ${pending.size} on the queue ${opts.queue}`);
    writeSweepState(outDir, state);
    let finished = state.points.length - pending.size;
    while (pending.size > 0) {
      let changed = false;
      for (const [pointId, { id, record }] of pending) {
        // The state first, then the job: a job that completes in between is read with its return value.
        const jobState = STATE_OF[await queue.getJobState(id)] ?? 'waiting';
        const job = (await queue.getJob(id)) as Job<PointJobData, PointResults> | undefined;
        if (!job) throw new Error(`job ${id} of point ${pointId} disappeared from the queue ${opts.queue}`);
        if (jobState === 'done' && !job.returnvalue) continue;
        const progress = typeof job.progress === 'object' ? (job.progress as PointJobProgress) : undefined;
        const next = {
          state: jobState,
          attempts: job.attemptsStarted,
          ...(job.processedBy ? { worker: job.processedBy } : progress ? { worker: progress.worker } : {}),
          progress: jobState === 'running' && progress ? { task: progress.task, tasks: progress.tasks, phase: progress.phase, epoch: progress.epoch, epochs: progress.epochs } : undefined,
          error: job.failedReason || undefined,
        };
        const seen = (o: { state?: PointState; attempts?: number; worker?: string; progress?: PointProgress; error?: string }) => JSON.stringify([o.state, o.attempts, o.worker, o.progress, o.error]);
        if (seen(next) === seen(record)) continue;
        Object.assign(record, next);
        changed = true;
        if (jobState === 'done') {
          record.results = job.returnvalue;
          record.finished_at = new Date(job.finishedOn ?? Date.now()).toISOString();
          pending.delete(pointId);
          opts.log(`[${++finished}/${state.points.length}] ${pointId}: done on ${record.worker ?? '?'}, ${describeResults(job.returnvalue)}`);
        } else if (jobState === 'failed') {
          record.finished_at = new Date(job.finishedOn ?? Date.now()).toISOString();
          pending.delete(pointId);
          opts.log(`[${++finished}/${state.points.length}] ${pointId}: failed after ${job.attemptsMade} attempt${job.attemptsMade > 1 ? 's' : ''}: ${job.failedReason}`);
        }
      }
      if (changed) writeSweepState(outDir, state);
      if (pending.size > 0) await sleep(opts.pollMs ?? 500);
    }
    return state;
  } finally {
    await queue.close();
  }
}

export interface WorkerOptions extends PointRunOptions {
  queue: string;
  /** Points run at once by this worker (default 1). */
  concurrency?: number;
  /** Run directories under DIR/<sweep>/<point> instead of the sweep's own directory (storage not shared with the sweep). */
  runsDir?: string;
  /** BullMQ lock duration in ms: a worker silent this long is taken for dead and its job is run again (default 30000). */
  lockMs?: number;
  /** Stops the worker (it finishes nothing further; running points are ended and picked up again elsewhere). */
  signal?: AbortSignal;
}

/**
 * A queue worker: takes point jobs, runs each as a child process of the CLI in the point's run
 * directory (resuming from a checkpoint found there), reports (task, epoch) progress through the
 * job and returns the point's results. Runs until `signal` aborts.
 */
export async function runWorker(opts: WorkerOptions): Promise<void> {
  const name = `${hostname()}-${process.pid}`;
  const concurrency = opts.concurrency ?? 1;
  const ortThreads = Math.max(1, Math.floor(availableParallelism() / concurrency));
  const lockMs = opts.lockMs ?? 30_000;
  const runs = new AbortController();
  const worker = new Worker<PointJobData, PointResults>(
    QUEUE_NAME,
    async (job) => {
      const { sweep, point, config } = job.data;
      const dir = opts.runsDir ? join(opts.runsDir, sweep, point) : job.data.dir;
      preparePointDir(dir, point, config);
      const results = await runPoint({
        bin: opts.bin,
        pointId: point,
        dir,
        dataDir: opts.dataDir,
        backend: opts.backend,
        env: opts.env,
        ortThreads,
        signal: runs.signal,
        onStart: ({ pid, resume }) => opts.log(`${name}: ${point}: ${resume ? 'resuming from its checkpoint' : 'started'} in ${dir} (pid ${pid}, attempt ${job.attemptsStarted})`),
        onProgress: (p) => void job.updateProgress({ ...p, worker: name } satisfies PointJobProgress).catch(() => undefined),
      });
      opts.log(`${name}: ${point}: done, ${describeResults(results)}`);
      return results;
    },
    { connection: redisConnection(opts.queue), concurrency, name, lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 2 },
  );
  worker.on('failed', (job, error) => opts.log(`${name}: ${job?.data.point ?? '?'}: attempt failed: ${error.message}`));
  worker.on('error', (error) => opts.log(`${name}: ${error.message}`));
  await worker.waitUntilReady();
  opts.log(`worker ${name}: waiting for points on ${opts.queue} (concurrency ${concurrency}, ${ortThreads} ONNX Runtime thread${ortThreads > 1 ? 's' : ''} per run${opts.runsDir ? `, run directories under ${opts.runsDir}` : ''})`);
  await new Promise<void>((resolveStop) => {
    if (opts.signal?.aborted) resolveStop();
    opts.signal?.addEventListener('abort', () => resolveStop(), { once: true });
  });
  runs.abort();
  await worker.close(true);
}

/** One job as `supermask sweep status` shows it. */
export interface JobStatus {
  sweep: string;
  point: string;
  state: PointState;
  attempts: number;
  worker?: string;
  progress?: PointJobProgress;
  average_accuracy?: number;
  error?: string;
}

/** Every point job on the queue, by state: waiting (with delayed retries), running, done, failed. */
export async function queueStatus(url: string): Promise<JobStatus[]> {
  const queue = new Queue<PointJobData, PointResults>(QUEUE_NAME, { connection: redisConnection(url) });
  try {
    await connected(queue, url);
    const out: JobStatus[] = [];
    for (const [types, state] of [[['active'], 'running'], [['waiting', 'prioritized', 'delayed'], 'waiting'], [['failed'], 'failed'], [['completed'], 'done']] as const) {
      const jobs = (await queue.getJobs([...types], 0, -1, true)) as Job<PointJobData, PointResults>[];
      for (const job of jobs) {
        if (!job?.data) continue;
        const progress = typeof job.progress === 'object' ? (job.progress as PointJobProgress) : undefined;
        out.push({
          sweep: job.data.sweep,
          point: job.data.point,
          state,
          attempts: job.attemptsStarted,
          ...(job.processedBy || progress?.worker ? { worker: job.processedBy ?? progress?.worker } : {}),
          ...(state === 'running' && progress ? { progress } : {}),
          ...(state === 'done' && job.returnvalue ? { average_accuracy: job.returnvalue.average_accuracy } : {}),
          ...(job.failedReason ? { error: job.failedReason } : {}),
        });
      }
    }
    return out;
  } finally {
    await queue.close();
  }
}

/** The status as text: counts, then one line per job, running first. */
export function formatQueueStatus(jobs: JobStatus[], url: string): string {
  const count = (s: PointState) => jobs.filter((j) => j.state === s).length;
  const lines = [`queue ${url}: ${count('waiting')} waiting, ${count('running')} running, ${count('done')} done, ${count('failed')} failed`];
  for (const j of jobs) {
    const where = j.progress ? ` task ${j.progress.task}${j.progress.tasks ? `/${j.progress.tasks}` : ''}${j.progress.phase ? ` ${j.progress.phase} phase` : ''}${j.progress.epoch ? ` epoch ${j.progress.epoch}${j.progress.epochs ? `/${j.progress.epochs}` : ''}` : ''}` : '';
    const detail =
      j.state === 'running' ? ` on ${j.worker ?? '?'}:${where}` : j.state === 'done' ? ` on ${j.worker ?? '?'}: average accuracy ${j.average_accuracy !== undefined ? (100 * j.average_accuracy).toFixed(2) : '?'}%` : j.state === 'failed' ? `: ${j.error ?? ''}` : '';
    lines.push(`  ${j.state.padEnd(7)} ${j.sweep}/${j.point} (attempt${j.attempts === 1 ? '' : 's'} ${j.attempts})${detail}`);
  }
  return lines.join('\n');
}
