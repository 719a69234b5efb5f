import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { collectFinished, type SweepPlan } from './plan.js';
import { runPoint } from './run-point.js';
import { writeSweepState, type SweepState } from './state.js';

/** How the points of a sweep run (embedded pool and queue workers alike). */
export interface PointRunOptions {
  /** The `supermask` CLI entry each run process starts (packages/cli/dist/bin.js). */
  bin: string;
  dataDir?: string;
  backend?: string;
  env?: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

export interface LocalSweepOptions extends PointRunOptions {
  /** Run processes at once (default: one per core). */
  workers?: number;
}

/** Worker processes that fit the cores, and ONNX Runtime threads for each run so they share the cores. */
export function poolSize(requested: number | undefined, points: number): { workers: number; ortThreads: number } {
  const cores = availableParallelism();
  const workers = Math.max(1, Math.min(requested ?? cores, Math.max(points, 1)));
  return { workers, ortThreads: Math.max(1, Math.floor(cores / workers)) };
}

export const describeResults = (r: { average_accuracy: number; seconds: number; resumed_after_task?: number }) =>
  `average accuracy ${(100 * r.average_accuracy).toFixed(2)}%, ${r.seconds.toFixed(1)} s${r.resumed_after_task !== undefined ? `, resumed after task ${r.resumed_after_task}` : ''}`;

/**
 * The embedded executor: runs the sweep's points in up to `workers` child processes at once, no
 * server involved. A point whose run directory holds results.json is collected, not run again;
 * one with a checkpoint is resumed from it. A failed point is retried with exponential backoff up
 * to the sweep's attempts, then marked failed while the others go on. sweep.json is rewritten on
 * every change of state or progress.
 */
export async function runLocalSweep(plan: SweepPlan, opts: LocalSweepOptions): Promise<SweepState> {
  const { state, outDir, spec } = plan;
  const save = () => writeSweepState(outDir, state);
  const todo = collectFinished(plan, opts.log);
  const { workers, ortThreads } = poolSize(opts.workers, todo.length);
  opts.log(`sweep ${spec.name}: ${state.points.length} points, ${todo.length} to run on ${workers} worker process${workers > 1 ? 'es' : ''} (${ortThreads} ONNX Runtime thread${ortThreads > 1 ? 's' : ''} each)`);
  save();
  let finished = state.points.length - todo.length;
  const limit = pLimit(workers);
  await Promise.all(
    todo.map(([record, point]) =>
      limit(async () => {
        for (let attempt = 1; attempt <= spec.retry.attempts; attempt++) {
          Object.assign(record, { state: 'running', worker: 'local', started_at: new Date().toISOString(), error: undefined, progress: undefined });
          record.attempts++;
          save();
          try {
            record.results = await runPoint({
              bin: opts.bin,
              pointId: record.id,
              dir: point.dir,
              dataDir: opts.dataDir,
              backend: opts.backend,
              env: opts.env,
              ortThreads,
              onStart: ({ pid, resume }) => opts.log(`${record.id}: ${resume ? 'resuming from its checkpoint' : 'started'} (pid ${pid}, attempt ${attempt} of ${spec.retry.attempts})`),
              onProgress: (p) => {
                record.progress = p;
                save();
              },
            });
            Object.assign(record, { state: 'done', finished_at: new Date().toISOString(), progress: undefined });
            save();
            opts.log(`[${++finished}/${state.points.length}] ${record.id}: done, ${describeResults(record.results)}`);
            return;
          } catch (error) {
            record.error = (error as Error).message;
            const last = attempt === spec.retry.attempts;
            Object.assign(record, { state: last ? 'failed' : 'waiting', progress: undefined, ...(last ? { finished_at: new Date().toISOString() } : {}) });
            save();
            if (last) {
              opts.log(`[${++finished}/${state.points.length}] ${record.id}: failed after ${attempt} attempt${attempt > 1 ? 's' : ''}: ${record.error}`);
              return;
            }
            const wait = spec.retry.backoff_seconds * 2 ** (attempt - 1);
            opts.log(`${record.id}: attempt ${attempt} failed (${record.error}); retrying in ${wait} s`);
            await sleep(wait * 1000);
          }
        }
      }),
    ),
  );
  return state;
}
