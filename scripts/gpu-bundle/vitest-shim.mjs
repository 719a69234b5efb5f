// The part of vitest's API that packages/cli/test/webgpu.test.ts uses (describe, describe.skipIf,
// it, afterAll, expect), so the bundle of scripts/gpu-bundle.sh runs that test file with plain
// Node: esbuild aliases `vitest` to this file. expect is vitest's own (@vitest/expect on chai).
import { chai, JestAsymmetricMatchers, JestChaiExpect, JestExtend } from '@vitest/expect';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

export const expect = (value, message) => chai.expect(value, message);

const tests = [];
const cleanups = [];
const scope = [];
let skipping = false;

export function describe(name, body) {
  scope.push(name);
  body();
  scope.pop();
}
describe.skipIf = (condition) => (name, body) => {
  const was = skipping;
  skipping = was || Boolean(condition);
  describe(name, body);
  skipping = was;
};

export function it(name, body) {
  tests.push({ name: [...scope, name].join(' > '), body, skip: skipping });
}

export function afterAll(body) {
  cleanups.push(body);
}

/** Runs the collected tests in order; one line each. */
export async function runTests(log = console.log) {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  const results = [];
  for (const t of tests) {
    if (t.skip) {
      counts.skipped++;
      results.push({ test: t.name, status: 'skipped' });
      log(`- ${t.name} (skipped)`);
      continue;
    }
    const started = performance.now();
    try {
      await t.body();
      counts.passed++;
      const seconds = (performance.now() - started) / 1000;
      results.push({ test: t.name, status: 'passed', seconds });
      log(`✓ ${t.name} (${seconds.toFixed(1)} s)`);
    } catch (error) {
      counts.failed++;
      results.push({ test: t.name, status: 'failed', error: String(error?.stack ?? error) });
      log(`✗ ${t.name}\n  ${String(error?.message ?? error).split('\n').join('\n  ')}`);
    }
  }
  for (const c of cleanups) await c();
  return { counts, results };
}
