// Prints the size of each JavaScript file of the built page (raw and gzip -9) and the totals.
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const dir = new URL('../dist/assets/', import.meta.url);
const rows = readdirSync(dir)
  .filter((f) => f.endsWith('.js'))
  .map((f) => {
    const bytes = readFileSync(new URL(f, dir));
    return { file: f, kb: bytes.length / 1024, gzipKb: gzipSync(bytes, { level: 9 }).length / 1024 };
  });
// index-*.js (the page) and worker-*.js (training) load for every run; the other chunk is the webgpu backend, loaded when webgpu is tried.
const loaded = (r) => /^(index|worker)-/.test(r.file);
console.log('file | KiB | gzip KiB | loaded');
for (const r of rows) console.log(`${r.file} | ${r.kb.toFixed(1)} | ${r.gzipKb.toFixed(1)} | ${loaded(r) ? 'always' : 'with webgpu'}`);
const sum = (rs, k) => rs.reduce((a, r) => a + r[k], 0).toFixed(1);
console.log(`total | ${sum(rows, 'kb')} | ${sum(rows, 'gzipKb')} |`);
console.log(`loaded for a run without webgpu | ${sum(rows.filter(loaded), 'kb')} | ${sum(rows.filter(loaded), 'gzipKb')} |`);
