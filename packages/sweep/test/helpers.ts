import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI (vitest's global setup builds the workspace first). */
export const BIN = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));

export function tempDir(prefix = 'supermask-sweep-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A small run config on the embedded Fashion-MNIST subset: `tasks` tasks of 2 classes with
 * `train` training and 100 test images each, LeNet 64-32, one SupSup mask phase.
 */
export function tinyConfig(opts: { tasks?: number; train?: number; epochs?: number } = {}): Record<string, unknown> {
  return {
    name: 'tiny',
    seed: 0,
    dataset: { id: 'fashion-mnist', options: { source: 'embedded' } },
    stream: { id: 'split', options: { tasks: opts.tasks ?? 3, classes_per_task: 2, train_per_task: opts.train ?? 200, test_per_task: 100 } },
    backbone: { id: 'lenet', options: { hidden: [64, 32] } },
    strategy: { id: 'supsup', options: { mask_phase: { epochs: opts.epochs ?? 1, optimizer: 'adam', lr: 0.01, batch_size: 32 } } },
    mask_scorer: { id: 'topk', options: { density: 0.1 } },
  };
}

export function writeJson(file: string, value: unknown): string {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  return file;
}

export interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

const started = new Set<ChildProcess>();

/** Kills every CLI process the tests started that is still running (after a failed test). */
export function killStarted(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  started.clear();
}

/** Starts the CLI with `args`; output is collected. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SUPERMASK_ORT_THREADS: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Runs the CLI to the end. */
export async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const s = startCli(args, env);
  const code = await s.exit;
  return { code, stdout: s.stdout(), stderr: s.stderr() };
}

/** Polls `check` every 50 ms until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Whether a redis-server binary is on PATH. */
export const HAVE_REDIS = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/** A throw-away redis-server on a free local port, persistence off. */
export async function startRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await waitFor('redis-server to accept connections', () => {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${out}`);
    return /Ready to accept connections/.test(out);
  }, 10_000);
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('close', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
