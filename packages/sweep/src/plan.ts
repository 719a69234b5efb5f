import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '@supermask/core';
import { checkPointDir, readPointResults, runDirState, writePointConfig } from './run-point.js';
import { newPointRecord, readSweepState, SWEEP_STATE_FILE, type PointRecord, type SweepState } from './state.js';
import { expandSweep, readSweepFile, type SweepPoint, type SweepSpec } from './sweep-file.js';

/** Resolves (validates, fills defaults) one point's raw config; throws a ConfigError naming the field. */
export type ResolvePointConfig = (raw: Record<string, unknown>, file: string) => unknown | Promise<unknown>;

/** A sweep ready to run: every point expanded and resolved, the directory prepared. */
export interface SweepPlan {
  file: string;
  outDir: string;
  spec: SweepSpec;
  points: (SweepPoint & { resolved: unknown; dir: string })[];
  state: SweepState;
}

/**
 * Reads the sweep file, expands its points and resolves every point's config before anything is
 * written: one bad point fails the whole sweep, with an error naming the point and the field.
 * Then writes each point's resolved config into its run directory (config.json) and starts
 * sweep.json, keeping the attempts of an earlier invocation on the same directory.
 * `beforeWriting` runs between the two (the queue executor checks that Redis answers).
 */
export async function planSweep(file: string, outDir: string, resolveConfig: ResolvePointConfig, executor: string, beforeWriting?: () => Promise<void>): Promise<SweepPlan> {
  const spec = readSweepFile(file);
  const points = expandSweep(spec, file);
  const out = resolve(outDir);
  const resolved: SweepPlan['points'] = [];
  for (const point of points) {
    try {
      resolved.push({ ...point, resolved: await resolveConfig(point.config, file), dir: join(out, point.id) });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      throw new ConfigError(`sweep ${file}: point ${point.id} (${Object.entries(point.labels).map(([k, v]) => `${k}=${v}`).join(', ') || 'base'}, seed ${point.seed}) is not a valid config: ${error.message.split('\n')[0]}`, error.problems, file);
    }
  }
  await beforeWriting?.();
  const earlier = existsSync(join(out, SWEEP_STATE_FILE)) ? readSweepState(out) : undefined;
  for (const p of resolved) checkPointDir(p.dir, p.id, p.resolved);
  for (const p of resolved) writePointConfig(p.dir, p.resolved);
  const state: SweepState = {
    format_version: 1,
    name: spec.name,
    sweep_file: resolve(file),
    executor,
    axes: [...Object.keys(spec.grid), ...Object.keys(spec.zip)],
    seeds: [...new Set(points.map((p) => p.seed))],
    updated_at: new Date().toISOString(),
    points: points.map((p) => {
      const before = earlier?.points.find((q) => q.id === p.id);
      return { ...newPointRecord(p), attempts: before?.attempts ?? 0 };
    }),
  };
  return { file, outDir: out, spec, points: resolved, state };
}

/**
 * Marks each point whose run directory already holds results.json as done with its results
 * (an earlier invocation finished it); returns the others, with their records, to be run.
 */
export function collectFinished(plan: SweepPlan, log: (line: string) => void): [PointRecord, SweepPlan['points'][number]][] {
  const todo: [PointRecord, SweepPlan['points'][number]][] = [];
  for (const [i, record] of plan.state.points.entries()) {
    const point = plan.points[i]!;
    if (runDirState(point.dir) === 'finished') {
      Object.assign(record, { state: 'done', results: readPointResults(point.dir) });
      log(`${record.id}: finished earlier, collected`);
    } else todo.push([record, point]);
  }
  return todo;
}
