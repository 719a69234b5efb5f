import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeRuns } from './fixtures.js';
import { pngSize } from './png.js';

// The built binary (the test setup builds the workspace first).
const bin = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let root: string;
let dirs: { supsup: string; exssnet: string };

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'supermask-report-cli-'));
  dirs = await makeRuns(join(root, 'runs'));
});

describe('supermask report', () => {
  it('compares two runs into --out and prints the written files', () => {
    const out = join(root, 'compare');
    const r = cli(['report', dirs.supsup, dirs.exssnet, '--out', out], root);
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.code).toBe(0);
    const written = r.stdout.trim().split('\n').map((l) => l.replace(/^written /, ''));
    expect(written[0]).toBe(join(out, 'report.html'));
    expect(written).toContain(join(out, 'figures', 'comparison.png'));
    for (const f of written.slice(1)) expect(pngSize(f).bytes).toBeGreaterThan(1000);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('report-test-supsup');
    expect(html).toContain('report-test-exssnet-kkt');
    expect(r.stderr).toMatch(/not shown: KKT.*report-test-supsup/);
  });

  it('writes into the run directory by default for one run, and into reports/<time> for several', () => {
    const one = cli(['report', dirs.exssnet], root);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain(`written ${join(dirs.exssnet, 'report.html')}`);
    expect(existsSync(join(dirs.exssnet, 'figures', 'kkt.png'))).toBe(true);
    const cwd = join(root, 'cwd');
    mkdirSync(cwd);
    const two = cli(['report', dirs.supsup, dirs.exssnet], cwd);
    expect(two.code).toBe(0);
    expect(two.stdout).toMatch(new RegExp(`written ${join(cwd, 'reports')}/\\d{8}-\\d{6}/report\\.html`));
  });

  it('exits with code 3 and names the file when a results.json is malformed', () => {
    const bad = join(root, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'results.json'), '{"format_version": 1,');
    const r = cli(['report', dirs.supsup, bad, '--out', join(root, 'never')], root);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`error: ${join(bad, 'results.json')}: not valid JSON`);
    expect(existsSync(join(root, 'never'))).toBe(false);
  });
});
