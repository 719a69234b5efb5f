import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * `supermask run` on a pseudo-terminal, as a user sees it: util-linux `script` (in Debian's
 * essential bsdutils, so on CI too) runs the CLI on a pty and copies everything the CLI draws;
 * Ctrl-C is the byte 0x03 written to the pty, which the terminal turns into SIGINT.
 */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'packages/cli/dist/bin.js');
const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasScript) console.warn('skipping the pseudo-terminal test: util-linux `script` is not installed');

const HIDE = '\x1b[?25l';
const SHOW = '\x1b[?25h';

describe.skipIf(!hasScript)('supermask run on a terminal', () => {
  it('redraws the phase bar during a task; Ctrl-C shows the cursor again, says how to resume and exits 130', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'supermask-pty-'));
    const file = join(dir, 'config.json');
    const out = join(dir, 'run');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'pty',
        seed: 1,
        dataset: { id: 'fashion-mnist', options: { source: 'embedded' } },
        stream: { id: 'split', options: { tasks: 2, classes_per_task: 2, train_per_task: 256, test_per_task: 50 } },
        backbone: { id: 'lenet', options: { hidden: [32, 16] } },
        strategy: { id: 'supsup', options: { mask_phase: { epochs: 1000, lr: 0.01, batch_size: 32 } } },
        mask_scorer: { id: 'topk', options: { density: 0.1 } },
      }),
    );
    const command = [process.execPath, bin, 'run', '--config', file, '--out', out].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qefc', command, '/dev/null'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', SHELL: '/bin/sh', TERM: 'xterm-256color' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Complete phase-bar frames (each render ends with erase-to-end-of-line) drawn while task 1
    // runs (before task 2's log line), by their text.
    const frames = () => {
      const task1 = screen.split('task 2/2')[0]!;
      return new Set([...task1.matchAll(/mask phase\s*\|[^|\r\n]*\| ([^\r\n\x1b]*batch[^\r\n\x1b]*)\x1b\[0K/g)].map((m) => m[1]!.trim()));
    };
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no three phase-bar frames within 40 s; the terminal showed:\n${JSON.stringify(screen)}`)), 40_000);
      child.on('exit', () => resolve());
      child.stdout.on('data', (d: Buffer) => {
        screen += d.toString();
        if (frames().size >= 3) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    expect(screen).not.toContain('task 2/2');
    expect(frames().size).toBeGreaterThanOrEqual(3);
    expect(screen).toContain(HIDE);
    const before = screen.length;
    child.stdin.write('\x03');
    const code = await exited;
    const after = screen.slice(before);
    expect(code).toBe(130);
    // The cursor is visible again: a show-cursor after the last hide-cursor.
    expect(screen.lastIndexOf(SHOW)).toBeGreaterThan(screen.lastIndexOf(HIDE));
    expect(after).toContain(`interrupted during task 1; continue with: supermask run --resume ${out}`);
  }, 90_000);
});
