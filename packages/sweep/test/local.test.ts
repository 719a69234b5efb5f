import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSweepState } from '@supermask/sweep';
import { alive, cli, killStarted, removeDir, startCli, tempDir, tinyConfig, waitFor, writeJson } from './helpers.js';

const dir = tempDir();
afterAll(() => {
  killStarted();
  removeDir(dir);
});

const results = (runDir: string) => JSON.parse(readFileSync(join(runDir, 'results.json'), 'utf8'));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('supermask sweep (embedded pool)', () => {
  it('runs 6 points on 2 worker processes and writes sweep.json, run directories and the summary', async () => {
    writeJson(join(dir, 'tiny.json'), tinyConfig());
    const file = join(dir, 'six.yaml');
    writeFileSync(file, 'name: six\nbase: tiny.json\ngrid:\n  mask_scorer.options.density: [0.05, 0.2, 0.1]\nseeds: [0, 1]\n');
    const out = join(dir, 'six');
    const r = await cli(['sweep', file, '--out', out, '--workers', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('6 to run on 2 worker processes');
    const state = readSweepState(out);
    expect(state.points.map((p) => [p.id, p.state, p.attempts])).toEqual(
      ['0.05', '0.2', '0.1'].flatMap((d) => [0, 1].map((s) => [`density=${d}_seed=${s}`, 'done', 1])),
    );
    for (const p of state.points) {
      const runDir = join(out, p.dir);
      const res = results(runDir);
      expect(p.results!.accuracy_matrix).toEqual(res.accuracy_matrix);
      expect(p.results!.average_accuracy).toBe(res.average_accuracy);
      const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'));
      expect(config.seed).toBe(p.seed);
      expect(config.mask_scorer.options.density).toBe(p.axes['mask_scorer.options.density']);
      expect(config.strategy.options.mask_phase.epochs).toBe(1); // resolved: defaults filled in
      expect(res.config).toEqual(config);
    }
    // Two run processes at once, never more.
    const spans = state.points.map((p) => [Date.parse(p.started_at!), Date.parse(p.finished_at!)] as const);
    const overlapAt = (t: number) => spans.filter(([a, b]) => a <= t && t < b).length;
    expect(Math.max(...spans.map(([a]) => overlapAt(a)))).toBe(2);
    // The summary: per density, mean over the seeds' results.json.
    const csv = readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(4);
    const head = csv[0]!.split(',');
    const row = csv.find((l) => l.startsWith('density=0.2,'))!.split(',');
    const expected = mean([0, 1].map((s) => results(join(out, `density=0.2_seed=${s}`)).average_accuracy as number));
    expect(Number(row[head.indexOf('average_accuracy_mean')])).toBeCloseTo(expected, 12);
    expect(row[head.indexOf('done')]).toBe('2');
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toMatch(/\| density \| seeds done \| average accuracy \(%\) \|/);
    expect(r.stdout).toMatch(/^0\.2 +2\/2 +\d+\.\d\d ± \d+\.\d\d/m);
  });

  it('an interrupted sweep, invoked again, collects the finished points, resumes the interrupted one and runs the rest', async () => {
    writeJson(join(dir, 'longer.json'), tinyConfig({ tasks: 3, train: 400, epochs: 2 }));
    const file = join(dir, 'resume.yaml');
    writeFileSync(file, 'base: longer.json\ngrid:\n  mask_scorer.options.density: [0.1, 0.2, 0.3]\n');
    const out = join(dir, 'resume');
    const first = startCli(['sweep', file, '--out', out, '--workers', '1']);
    const [a, b, c] = ['density=0.1_seed=0', 'density=0.2_seed=0', 'density=0.3_seed=0'].map((id) => join(out, id));
    await waitFor('the first point done and the second past its first task', () => existsSync(join(a!, 'results.json')) && existsSync(join(b!, 'checkpoint.json')));
    first.child.kill('SIGKILL');
    await first.exit;
    // The run process of the interrupted point ends with the sweep that started it.
    const runPid = Number(/density=0\.2_seed=0: started \(pid (\d+)/.exec(first.stderr())![1]);
    await waitFor('the orphaned run process to end', () => !alive(runPid), 10_000);
    expect(readSweepState(out).points[1]!.state).toBe('running');
    expect(existsSync(join(b!, 'results.json'))).toBe(false);
    const aTime = statSync(join(a!, 'results.json')).mtimeMs;
    const second = await cli(['sweep', file, '--out', out, '--workers', '1']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('density=0.1_seed=0: finished earlier, collected');
    expect(second.stderr).toContain('density=0.2_seed=0: resuming from its checkpoint');
    expect(second.stderr).toContain('density=0.3_seed=0: started');
    expect(second.stderr).toContain('2 to run');
    expect(statSync(join(a!, 'results.json')).mtimeMs).toBe(aTime);
    const resumed = results(b!);
    expect(resumed.resumed_from.completed_tasks).toBeGreaterThanOrEqual(1);
    expect(results(c!).resumed_from).toBeUndefined();
    const state = readSweepState(out);
    expect(state.points.map((p) => p.state)).toEqual(['done', 'done', 'done']);
    expect(state.points[1]!.results!.resumed_after_task).toBe(resumed.resumed_from.completed_tasks);
    expect(state.points[1]!.attempts).toBe(2);
  });

  it('a bad sweep file or a bad point exits 2 naming the field, before anything is written', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'base: tiny.json\ngrid:\n  mask_scorer.options.density: 0.1\n');
    const r1 = await cli(['sweep', bad, '--out', join(dir, 'bad1')]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain('grid["mask_scorer.options.density"]: must be array');
    const badPoint = join(dir, 'bad-point.yaml');
    writeFileSync(badPoint, 'base: tiny.json\ngrid:\n  mask_scorer.options.density: [0.1, 1.5]\n');
    const r2 = await cli(['sweep', badPoint, '--out', join(dir, 'bad2')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/point density=1\.5_seed=0 .* is not a valid config/);
    expect(r2.stderr).toMatch(/mask_scorer\.options\.density/);
    expect(existsSync(join(dir, 'bad1'))).toBe(false);
    expect(existsSync(join(dir, 'bad2'))).toBe(false);
  });
});
