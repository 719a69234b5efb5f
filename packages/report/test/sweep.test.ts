import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport } from '@supermask/report';
import { Rng } from '@supermask/core';
import { writeSweepState, type PointRecord, type SweepState } from '@supermask/sweep';

const dir = mkdtempSync(join(tmpdir(), 'supermask-sweep-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A finished sweep of 2 methods x 3 densities x 3 seeds with seeded random results (one point failed). */
function sweepState(): SweepState {
  const rng = new Rng(5);
  const points: PointRecord[] = [];
  for (const density of [0.02, 0.05, 0.1]) {
    for (const method of ['supsup', 'exssnet']) {
      for (const seed of [0, 1, 2]) {
        const configuration = `density=${density}_strategy=${method}`;
        const failed = density === 0.1 && method === 'exssnet' && seed === 2;
        points.push({
          id: `${configuration}_seed=${seed}`,
          configuration,
          dir: `${configuration}_seed=${seed}`,
          axes: { 'mask_scorer.options.density': density, strategy: { id: method } },
          labels: { 'mask_scorer.options.density': String(density), strategy: method },
          seed,
          state: failed ? 'failed' : 'done',
          attempts: 1,
          ...(failed
            ? { error: 'run failed' }
            : { results: { average_accuracy: rng.uniform(0.9, 1), forgetting: 0, capacity_used: rng.uniform(0, 1), seconds: rng.uniform(1, 2), backend: 'cpu', accuracy_matrix: [[1]] } }),
        });
      }
    }
  }
  return { format_version: 1, name: 'density', sweep_file: '/x/density.yaml', executor: 'local', axes: ['mask_scorer.options.density', 'strategy'], seeds: [0, 1, 2], updated_at: '', points };
}

describe('supermask report SWEEP_DIR', () => {
  it('plots each metric against density, one line per method, mean and sd over the seeds that finished', async () => {
    const state = sweepState();
    writeSweepState(dir, state);
    const report = await buildReport([dir], dir, { png: false });
    expect(report.figures.map((f) => f.id)).toEqual(['sweep-accuracy', 'sweep-forgetting', 'sweep-capacity', 'sweep-seconds']);
    const html = readFileSync(report.html, 'utf8');
    expect(html).toContain('Average accuracy vs density');
    expect(html).toContain('18 points (17 done, 1 failed)');
    expect(html).toMatch(/<th scope="row">0\.1<\/th><th scope="row">exssnet<\/th><td>2\/3 \(1 failed\)<\/td>/);
    // The error bars: mean +- sd of the finished seeds, recomputed here from the points.
    const values = state.points.filter((p) => p.configuration === 'density=0.1_strategy=exssnet' && p.state === 'done').map((p) => p.results!.average_accuracy);
    const mean = (values[0]! + values[1]!) / 2;
    const sd = Math.abs(values[0]! - values[1]!) / Math.SQRT2;
    expect(html).toContain(`${(100 * mean).toFixed(2)} ± ${(100 * sd).toFixed(2)}`);
    expect(report.runs).toHaveLength(17);
  });
});
