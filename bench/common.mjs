// Shared helpers of the benchmarks: data location, a printed table, and bench/results/NAME.json.
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { versions } from '@supermask/core';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** The full Fashion-MNIST: SUPERMASK_DATA, else ../shared/datasets, else the Debian location. */
export function fullDataDir() {
  const candidates = [process.env.SUPERMASK_DATA, join(root, '..', 'shared', 'datasets', 'fashion-mnist'), '/usr/share/datasets/fashion-mnist'];
  return candidates.find((d) => d && existsSync(join(d, 'train-images-idx3-ubyte.gz')));
}

/** Prints rows as an aligned table. */
export function printTable(rows, columns = Object.keys(rows[0] ?? {})) {
  const cell = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : Array.isArray(v) ? v.join(' ') : String(v ?? ''));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join(' | ');
  console.log(line(columns));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(columns.map((c) => cell(r[c]))));
}

/** Writes bench/results/NAME.json atomically with the figures, config, seed and machine. */
export function writeResults(name, payload) {
  const file = join(root, 'bench', 'results', `${name}.json`);
  mkdirSync(dirname(file), { recursive: true });
  const body = {
    benchmark: name,
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, total_memory_gb: Math.round(os.totalmem() / 2 ** 30) },
    versions: versions(),
    ...payload,
  };
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`);
  renameSync(tmp, file);
  console.log(`\nwritten ${file}`);
}
