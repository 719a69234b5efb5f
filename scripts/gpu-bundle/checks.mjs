// Entry of the bundle's equivalence checks: packages/cli/test/webgpu.test.ts run without vitest
// (see vitest-shim.mjs). Writes checks.json to the directory given as the first argument.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runTests } from './vitest-shim.mjs';
import './importer.mjs';

const out = process.argv[2] ?? '.';
await import('../../packages/cli/test/webgpu.test.ts');
const { counts, results } = await runTests();
console.log(`\nequivalence checks: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'checks.json'), `${JSON.stringify({ date: new Date().toISOString(), ...counts, results }, null, 2)}\n`);
if (counts.failed > 0 || counts.passed === 0) process.exitCode = 1;
