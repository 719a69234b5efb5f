// npm run soak — long robustness runs. Part 1 (this file today): every parser fuzzed with
// thousands of generated inputs (truncated, bit-flipped, oversized headers, random bytes,
// structure-aware edits) through packages/cli/test/fuzz.test.ts; prints, per parser, the inputs
// tried, those that parsed to a valid value and those refused with the named error (DataError /
// ConfigError naming the file). Any other outcome (another exception, an input slower than 2 s)
// fails the run with fast-check's counterexample and seed.
//   node bench/soak.mjs [--runs N (default 1000)] [--seed S (default: random, printed)]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { printTable, root, writeResults } from './common.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const runs = arg('runs', 1000);
const seed = arg('seed', Math.floor(Math.random() * 2 ** 31));
const report = join(mkdtempSync(join(os.tmpdir(), 'supermask-soak-')), 'fuzz.json');

console.log(`fuzzing every parser: ${runs} inputs each, seed ${seed}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const started = Date.now();
const r = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', 'packages/cli/test/fuzz.test.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, SUPERMASK_FUZZ_RUNS: String(runs), SUPERMASK_FUZZ_SEED: String(seed), SUPERMASK_FUZZ_REPORT: report },
});
if (r.status !== 0) {
  console.error(`fuzzing failed (exit ${r.status}); rerun with --seed ${seed} --runs ${runs} to reproduce`);
  process.exit(1);
}
const { counts } = JSON.parse(readFileSync(report, 'utf8'));
const seconds = (Date.now() - started) / 1000;
console.log();
printTable(counts.map((c) => ({ parser: c.parser, tried: c.tried, parsed: c.parsed, named_errors: c.named_errors, other_errors: c.tried - c.parsed - c.named_errors, slowest_ms: Number(c.slowest_ms.toFixed(1)) })));
console.log(`\n${counts.reduce((n, c) => n + c.tried, 0)} inputs in ${seconds.toFixed(0)} s, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
writeResults('soak', { config: { runs, seed }, seed, backend: 'none (parsers only)', load_average: os.loadavg(), seconds, fuzz: counts });
