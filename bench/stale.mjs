// Which bench/results/NAME.json are older than the last change to the configs/ files their
// benchmark reads (used by bench/summary.mjs; tested in packages/cli/test/bench-stale.test.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The files under configs/ each bench/SCRIPT.mjs reads (kept in step with the scripts' readConfigFile calls). */
export const BENCH_CONFIGS = {
  '100-tasks': ['permuted-fmnist-supsup.json', 'permuted-fmnist-exssnet.json'],
  'convbn-units': [],
  'unit-threads': [],
  'outside-graphs': ['split-fmnist-resnet18-supsup.json', 'split-fmnist-resnet18-exssnet.json'],
  density: ['split-fmnist-supsup.json', 'split-fmnist-exssnet.json'],
  gpu: ['split-fmnist-supsup.json', 'split-fmnist-resnet18-supsup.json'],
  kernels: [],
  kkt: ['rotated-fmnist-exssnet-kkt.json'],
  lenet: ['split-fmnist-supsup.json', 'split-fmnist-exssnet.json'],
  'nchwc-probe': [],
  'profile-resnet': ['split-fmnist-resnet18-supsup.json', 'split-fmnist-resnet18-exssnet.json'],
  'resnet-stream': ['split-fmnist-resnet18-exssnet.json'],
  resnet18: ['split-fmnist-resnet18-supsup.json', 'split-fmnist-resnet18-exssnet.json'],
  'resnet18-accuracy': ['split-fmnist-resnet18-supsup.json', 'split-fmnist-resnet18-exssnet.json'],
  soak: [],
  startup: [],
  strategies: ['split-fmnist-supsup.json', 'split-fmnist-exssnet.json', 'split-fmnist-wsn.json', 'split-fmnist-wsn-kkt.json', 'split-fmnist-packnet.json'],
  'task-inference': ['permuted-fmnist-supsup.json', 'permuted-fmnist-exssnet.json'],
  'task-inference-diagnose': ['permuted-fmnist-supsup.json', 'permuted-fmnist-exssnet.json'],
  text: ['local-text-supsup.json', 'local-text-exssnet.json'],
  'vs-pytorch': ['split-fmnist-supsup.json', 'split-fmnist-exssnet.json', 'split-fmnist-resnet18-supsup.json', 'split-fmnist-resnet18-exssnet.json'],
};

/**
 * The bench script that wrote results NAME: its recorded `script`, else the longest script name
 * NAME starts with (results written under another name, e.g. task-inference-50, strategies-full-seed0).
 */
export function scriptOf(name, result = {}) {
  if (result.script && result.script in BENCH_CONFIGS) return result.script;
  return Object.keys(BENCH_CONFIGS)
    .filter((s) => name === s || name.startsWith(`${s}-`))
    .sort((a, b) => b.length - a.length)[0];
}

const git = (repo, args) => execFileSync('git', args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();

/**
 * Milliseconds since the epoch of the last change to `path` (relative to `repo`): now when it has
 * uncommitted modifications or is untracked, else its last commit's time; undefined when git knows
 * nothing of it (or `repo` is not a git work tree).
 */
export function lastChange(repo, path, now = Date.now()) {
  try {
    if (git(repo, ['status', '--porcelain', '--', path]) !== '') return now;
    const t = git(repo, ['log', '-1', '--format=%ct', '--', path]);
    return t ? Number(t) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * When results NAME was measured: its `date`; for results combined (BENCH_COMBINE) from recorded
 * runs, the oldest of those runs' dates; else the results file's last commit (or its mtime).
 */
export function measuredAt(repo, name, result, load) {
  const dates = (result.combined_from ?? []).map((n) => load(n)?.date).filter(Boolean);
  if (dates.length) return Math.min(...dates.map((d) => Date.parse(d)));
  if (result.date && !Number.isNaN(Date.parse(result.date))) return Date.parse(result.date);
  const file = join('bench', 'results', `${name}.json`);
  return lastChange(repo, file) ?? statSync(join(repo, file)).mtimeMs;
}

/**
 * The configs/ files changed after results NAME was measured, as [{ config, changed }] (config
 * relative to `repo`, changed in ms): empty when the results are fresh. `changed(config)` gives a
 * config's last change (default lastChange).
 */
export function staleness(repo, name, result, { load = loader(repo), now = Date.now(), changed = (config) => lastChange(repo, config, now) } = {}) {
  const script = scriptOf(name, result);
  const files = result.config_files ?? (script ? BENCH_CONFIGS[script].map((f) => `configs/${f}`) : []);
  const measured = measuredAt(repo, name, result, load);
  return files
    .map((config) => ({ config, changed: changed(config) }))
    .filter((c) => c.changed !== undefined && c.changed > measured)
    .map((c) => ({ ...c, measured, script }));
}

/** Reads bench/results/NAME.json under `repo` (undefined when absent). */
export function loader(repo) {
  return (name) => {
    const file = join(repo, 'bench', 'results', `${name}.json`);
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
  };
}

/** Every bench/results/*.json under `repo` with the configs changed after it: [{ name, stale }]. */
export function staleResults(repo, now = Date.now()) {
  const dir = join(repo, 'bench', 'results');
  if (!existsSync(dir)) return [];
  const load = loader(repo);
  // Many results read the same configs: ask git about each config once.
  const changes = new Map();
  const changed = (config) => {
    if (!changes.has(config)) changes.set(config, lastChange(repo, config, now));
    return changes.get(config);
  };
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => f.slice(0, -'.json'.length))
    .map((name) => ({ name, stale: staleness(repo, name, load(name), { load, now, changed }) }));
}

/** A time in ms as 'YYYY-MM-DD HH:MM UTC'. */
export const utc = (ms) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** The command that reruns bench/SCRIPT.mjs: the npm script of package.json that runs it, else node. */
export function rerunCommand(repo, script) {
  const scripts = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).scripts ?? {};
  const npm = Object.keys(scripts).find((k) => scripts[k].includes(`bench/${script}.mjs`));
  return npm ? `npm run ${npm}` : `node bench/${script}.mjs`;
}

/** The warning for results NAME that `stale` (from staleness) flags, one line per config. */
export function staleMessages(repo, name, stale) {
  return stale.map(
    (s) => `bench/results/${name}.json (${utc(s.measured)}) is older than the last change to ${s.config} (${utc(s.changed)}): rerun ${rerunCommand(repo, s.script ?? name)}`,
  );
}
