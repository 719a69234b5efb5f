// npm run soak — long robustness runs.
// Part 1: every parser fuzzed with thousands of generated inputs (truncated, bit-flipped,
// oversized headers, random bytes, structure-aware edits) through packages/cli/test/fuzz.test.ts;
// prints, per parser, the inputs tried, those that parsed to a valid value and those refused with
// the named error (DataError / ConfigError naming the file). Any other outcome (another exception,
// an input slower than 2 s) fails the run with fast-check's counterexample and seed.
// Part 2: the crash soak (packages/cli/test/crash-soak.test.ts) with --kills N SIGKILLs (default
// 100) at seeded random moments of a short ExSSNeT + KKT run, resumed each time; prints where
// each kill left the checkpoint, and fails unless every file parsed after every kill and the
// finished run has the uninterrupted run's accuracy matrix and checkpoint bytes.
//   node bench/soak.mjs [--runs N (default 1000)] [--kills K (default 100)] [--seed S (default: random, printed)]
//   (--runs 0 or --kills 0 skips that part)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { printTable, root, writeResults } from './common.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const runs = arg('runs', 1000);
const killCount = arg('kills', 100);
const seed = arg('seed', Math.floor(Math.random() * 2 ** 31));
const reportDir = mkdtempSync(join(os.tmpdir(), 'supermask-soak-'));
const report = join(reportDir, 'fuzz.json');
const vitest = (file, extraEnv) =>
  spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', file], { cwd: root, stdio: 'inherit', env: { ...process.env, ...extraEnv } });
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
const payload = { config: { runs, kills: killCount, seed }, seed, backend: 'cpu-plain (crash soak); none (parsers)' };

if (runs > 0) {

console.log(`fuzzing every parser: ${runs} inputs each, seed ${seed}, load average ${load()}`);
const started = Date.now();
const r = vitest('packages/cli/test/fuzz.test.ts', { SUPERMASK_FUZZ_RUNS: String(runs), SUPERMASK_FUZZ_SEED: String(seed), SUPERMASK_FUZZ_REPORT: report });
if (r.status !== 0) {
  console.error(`fuzzing failed (exit ${r.status}); rerun with --seed ${seed} --runs ${runs} to reproduce`);
  process.exit(1);
}
const { counts } = JSON.parse(readFileSync(report, 'utf8'));
const seconds = (Date.now() - started) / 1000;
console.log();
printTable(counts.map((c) => ({ parser: c.parser, tried: c.tried, parsed: c.parsed, named_errors: c.named_errors, other_errors: c.tried - c.parsed - c.named_errors, slowest_ms: Number(c.slowest_ms.toFixed(1)) })));
console.log(`\n${counts.reduce((n, c) => n + c.tried, 0)} inputs in ${seconds.toFixed(0)} s, load average ${load()}`);
Object.assign(payload, { fuzz_seconds: seconds, fuzz: counts });
}

if (killCount > 0) {
  const crashReport = join(reportDir, 'crash.json');
  console.log(`\ncrash soak: ${killCount} SIGKILLs, seed ${seed}, load average ${load()}`);
  const c = vitest('packages/cli/test/crash-soak.test.ts', { SUPERMASK_SOAK_KILLS: String(killCount), SUPERMASK_SOAK_SEED: String(seed), SUPERMASK_SOAK_REPORT: crashReport, SUPERMASK_SOAK_ONLY: '1' });
  if (!existsSync(crashReport)) {
    console.error(`crash soak failed before its report (exit ${c.status}); rerun with --seed ${seed} --kills ${killCount}`);
    process.exit(1);
  }
  const crash = JSON.parse(readFileSync(crashReport, 'utf8'));
  console.log();
  printTable(crash.kills);
  const byPlace = {};
  for (const k of crash.kills) {
    const place = k.checkpoint === 'none' ? 'no checkpoint yet' : k.checkpoint.startsWith('after') ? 'end-of-task checkpoint' : 'mid-task checkpoint';
    byPlace[place] = (byPlace[place] ?? 0) + 1;
  }
  console.log();
  printTable(Object.entries(byPlace).map(([checkpoint, kills]) => ({ checkpoint, kills })));
  console.log(`\n${crash.kills.length} kills in ${crash.seconds.toFixed(0)} s over ${crash.runs} runs, ${new Set(crash.kills.map((k) => k.checkpoint)).size} distinct checkpoint positions, mid-task in tasks ${[...new Set(crash.kills.filter((k) => / b\d+$/.test(k.checkpoint)).map((k) => k.checkpoint.split(' ')[0].slice(1)))].sort().join(', ')}, after tasks ${[...new Set(crash.kills.filter((k) => k.checkpoint.startsWith('after')).map((k) => k.checkpoint.slice(7)))].sort().join(', ') || 'none'}; every file parsed after every kill; each of the ${crash.runs} runs ended with the uninterrupted run's accuracy matrix ${JSON.stringify(crash.accuracy_matrix)} and checkpoint bytes; load average ${load()}`);
  Object.assign(payload, { crash_soak: crash });
  if (c.status !== 0) {
    console.error(`crash soak failed (exit ${c.status}); rerun with --seed ${seed} --kills ${killCount}`);
    process.exit(1);
  }
}
writeResults('soak', { ...payload, load_average: os.loadavg() });
