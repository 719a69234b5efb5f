// bench/stale.mjs: which bench/results are older than the last change to the configs/ files their benchmark reads.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-ignore: a plain ESM script of the repository's bench/, not a package
import { BENCH_CONFIGS, scriptOf, staleMessages, staleResults, staleness } from '../../../bench/stale.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A git repository with package.json, configs/ and bench/results/; `commit` commits everything at the given ISO time. */
function repo() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-stale-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'configs'));
  mkdirSync(join(dir, 'bench', 'results'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ scripts: { 'bench:kkt': 'node bench/kkt.mjs' } }));
  const git = (args: string[], date?: string) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false', ...args], {
      cwd: dir,
      stdio: 'ignore',
      env: { ...process.env, ...(date ? { GIT_COMMITTER_DATE: date, GIT_AUTHOR_DATE: date } : {}) },
    });
  git(['init', '-q']);
  const write = (path: string, value: unknown) => writeFileSync(join(dir, path), JSON.stringify(value));
  const commit = (date: string) => {
    git(['add', '-A']);
    git(['commit', '-q', '-m', date], date);
  };
  return { dir, write, commit };
}

const staleOf = (dir: string, name: string) => staleResults(dir).find((r: { name: string }) => r.name === name).stale;

describe('bench/stale.mjs', () => {
  it('flags a result measured before a change to a config its benchmark reads, and not one measured after', () => {
    const { dir, write, commit } = repo();
    write('configs/rotated-fmnist-exssnet-kkt.json', { seed: 0 });
    write('configs/split-fmnist-supsup.json', { seed: 0 });
    commit('2026-01-01T00:00:00Z');
    write('bench/results/kkt.json', { benchmark: 'kkt', date: '2026-01-02T00:00:00Z' });
    commit('2026-01-02T00:00:00Z');
    expect(staleOf(dir, 'kkt')).toEqual([]);

    // A config bench/kkt.mjs does not read changes: still fresh (per config, not any change under configs/).
    write('configs/split-fmnist-supsup.json', { seed: 1 });
    commit('2026-01-03T00:00:00Z');
    expect(staleOf(dir, 'kkt')).toEqual([]);

    // The config it reads changes after the run: stale, with both times and the command to rerun.
    write('configs/rotated-fmnist-exssnet-kkt.json', { seed: 1 });
    commit('2026-01-04T00:00:00Z');
    const stale = staleOf(dir, 'kkt');
    expect(stale).toEqual([{ config: 'configs/rotated-fmnist-exssnet-kkt.json', changed: Date.parse('2026-01-04T00:00:00Z'), measured: Date.parse('2026-01-02T00:00:00Z'), script: 'kkt' }]);
    expect(staleMessages(dir, 'kkt', stale)).toEqual([
      'bench/results/kkt.json (2026-01-02 00:00 UTC) is older than the last change to configs/rotated-fmnist-exssnet-kkt.json (2026-01-04 00:00 UTC): rerun npm run bench:kkt',
    ]);

    // Rerun after the change: fresh again.
    write('bench/results/kkt.json', { benchmark: 'kkt', date: '2026-01-05T00:00:00Z' });
    commit('2026-01-05T00:00:00Z');
    expect(staleOf(dir, 'kkt')).toEqual([]);
  });

  it('counts an uncommitted change to a config as now, and falls back to the results file commit time without a date', () => {
    const { dir, write, commit } = repo();
    write('configs/rotated-fmnist-exssnet-kkt.json', { seed: 0 });
    commit('2026-01-01T00:00:00Z');
    write('bench/results/kkt-small.json', { benchmark: 'kkt-small' });
    commit('2026-01-02T00:00:00Z');
    expect(staleness(dir, 'kkt-small', { benchmark: 'kkt-small' })).toEqual([]);
    write('configs/rotated-fmnist-exssnet-kkt.json', { seed: 2 });
    const now = Date.parse('2026-02-01T00:00:00Z');
    expect(staleness(dir, 'kkt-small', { benchmark: 'kkt-small' }, { now })).toEqual([
      { config: 'configs/rotated-fmnist-exssnet-kkt.json', changed: now, measured: Date.parse('2026-01-02T00:00:00Z'), script: 'kkt' },
    ]);
    // A result that records the configs it read is judged by those.
    expect(staleness(dir, 'kkt-small', { benchmark: 'kkt-small', date: '2026-01-03T00:00:00Z', config_files: [] }, { now })).toEqual([]);
  });

  it('dates results combined from recorded runs by the oldest of those runs', () => {
    const { dir, write, commit } = repo();
    write('bench/results/strategies-a.json', { benchmark: 'strategies-a', date: '2026-01-01T00:00:00Z' });
    write('bench/results/strategies-b.json', { benchmark: 'strategies-b', date: '2026-01-03T00:00:00Z' });
    write('configs/split-fmnist-wsn.json', { seed: 0 });
    commit('2026-01-02T00:00:00Z');
    write('bench/results/strategies.json', { benchmark: 'strategies', date: '2026-01-04T00:00:00Z', combined_from: ['strategies-a', 'strategies-b'] });
    commit('2026-01-04T00:00:00Z');
    expect(staleOf(dir, 'strategies').map((s: { config: string }) => s.config)).toEqual(['configs/split-fmnist-wsn.json']);
    expect(staleOf(dir, 'strategies-a')).toHaveLength(1);
    expect(staleOf(dir, 'strategies-b')).toEqual([]);
  });

  it('declares the configs of every benchmark that writes results, and only configs that exist', () => {
    const writers = readdirSync(join(root, 'bench'))
      .filter((f) => f.endsWith('.mjs') && f !== 'common.mjs' && readFileSync(join(root, 'bench', f), 'utf8').includes('writeResults('))
      .map((f) => f.slice(0, -'.mjs'.length));
    expect(writers.filter((w) => !(w in BENCH_CONFIGS))).toEqual([]);
    const declared = Object.values(BENCH_CONFIGS).flat() as string[];
    expect(declared.filter((f) => !existsSync(join(root, 'configs', f)))).toEqual([]);
  });

  it('maps results names to the bench script that wrote them', () => {
    expect(scriptOf('task-inference-50')).toBe('task-inference');
    expect(scriptOf('task-inference-diagnose-0')).toBe('task-inference-diagnose');
    expect(scriptOf('strategies-full-seed0')).toBe('strategies');
    expect(scriptOf('renamed', { script: 'lenet' })).toBe('lenet');
    expect(scriptOf('unknown')).toBeUndefined();
  });
});
