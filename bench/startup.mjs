// npm run bench:startup — how fast `supermask` starts, and what node_modules holds.
// Side by side in one run, alternating: the CLI as shipped (heavy modules imported by the commands
// that use them) against the same --help with every component package imported first (what the
// CLI did before the lazy imports). Also the size of node_modules and of the tfjs packages installed
// (of the umbrella's extra parts only tfjs-backend-webgl, for the web page, is left).
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { printTable, root, writeResults } from './common.mjs';

const repeats = Number(process.env.BENCH_REPEATS ?? 5);
const bin = join(root, 'packages/cli/bin/supermask.js');
const eager = "const m = await import('@supermask/cli'); m.createRegistry(); process.exitCode = await m.main(['--help'], { stdout: () => {}, stderr: () => {}, isTTY: false, env: {} });";
const cases = [
  { case: '--help', args: [bin, '--help'] },
  { case: '--version', args: [bin, '--version'] },
  { case: 'list', args: [bin, 'list'] },
  { case: '--help, eager imports (before)', args: ['--input-type=module', '-e', eager], cwd: join(root, 'packages/cli') },
  // What core loads of tfjs (the umbrella @tensorflow/tfjs, ~190 MB more, is no longer installed):
  // tfjs-core + the cpu backend, then with the gradient and chained-op registrations core adds.
  { case: 'import tfjs-core + tfjs-backend-cpu', args: ['--input-type=module', '-e', "await import('@tensorflow/tfjs-core'); await import('@tensorflow/tfjs-backend-cpu');"], cwd: join(root, 'packages/core') },
  { case: '... + vendor/tfjs-registrations.mjs', args: ['--input-type=module', '-e', "await import('@tensorflow/tfjs-core'); await import('@tensorflow/tfjs-backend-cpu'); await import('./vendor/tfjs-registrations.mjs');"], cwd: join(root, 'packages/core') },
];
const times = new Map(cases.map((c) => [c.case, []]));
const load = [];
for (let r = 0; r < repeats; r++) {
  for (const c of cases) {
    const t0 = process.hrtime.bigint();
    const p = spawnSync(process.execPath, c.args, { cwd: c.cwd ?? root, stdio: 'ignore' });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (p.status !== 0) throw new Error(`${c.case}: exit ${p.status}`);
    times.get(c.case).push(seconds);
  }
  load.push(os.loadavg()[0]);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(times.get('--help, eager imports (before)'));
const rows = cases.map((c) => ({ case: c.case, median_seconds: median(times.get(c.case)), min_seconds: Math.min(...times.get(c.case)), vs_eager_help: median(times.get(c.case)) / base }));
printTable(rows);

const kib = (path) => (existsSync(path) ? Number(execFileSync('du', ['-sk', path], { encoding: 'utf8' }).split('\t')[0]) : 0);
const nm = join(root, 'node_modules');
const sizes = {
  node_modules_mib: kib(nm) / 1024,
  tfjs_umbrella_only_mib: ['@tensorflow/tfjs', '@tensorflow/tfjs-converter', '@tensorflow/tfjs-backend-webgl', '@tensorflow/tfjs-data'].reduce((s, p) => s + kib(join(nm, p)), 0) / 1024,
  tfjs_layers_mib: kib(join(nm, '@tensorflow/tfjs-layers')) / 1024,
  tfjs_core_and_cpu_mib: (kib(join(nm, '@tensorflow/tfjs-core')) + kib(join(nm, '@tensorflow/tfjs-backend-cpu'))) / 1024,
  transformers_only_mib: ['@huggingface/transformers', '@huggingface/jinja', 'onnxruntime-web', 'sharp', '@img'].reduce((s, p) => s + kib(join(nm, p)), 0) / 1024,
  hf_tokenizers_mib: kib(join(nm, '@huggingface/tokenizers')) / 1024,
};
console.log('');
printTable(Object.entries(sizes).map(([what, mib]) => ({ what, mib })));
const loadavg = load.reduce((a, b) => a + b, 0) / load.length;
console.log(`\nload average (1 min) during the runs: ${loadavg.toFixed(2)} on ${os.cpus().length} cores`);
writeResults('startup', { config: { repeats }, seed: null, backend: 'n/a', loadavg, rows, sizes });
