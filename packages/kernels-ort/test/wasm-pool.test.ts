import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { WASM_STACK_BYTES, createWasmPool, itemRange, loadSupermaskKernels, supermaskKernelsUnavailableReason } from '@supermask/kernels-ort';
import type { WasmModule, WasmPool } from '@supermask/kernels-ort';
import { uniform } from './uniform.js';

// Records the pool's workers, to check that dispose ends them.
const workers = vi.hoisted(() => [] as Worker[]);
vi.mock('node:worker_threads', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:worker_threads')>();
  class RecordedWorker extends actual.Worker {
    constructor(...args: ConstructorParameters<typeof actual.Worker>) {
      super(...args);
      workers.push(this);
    }
  }
  return { ...actual, Worker: RecordedWorker };
});

const packageDir = fileURLToPath(new URL('../', import.meta.url));
const TABLE = [0.5, 1.5, 2.5, 3.5]; // POOL_CHECK_TABLE of wasm/pool-check.c

function loadModule(): WasmModule {
  const module = loadSupermaskKernels();
  if (module === undefined) throw new Error(`the kernels module is unavailable: ${supermaskKernelsUnavailableReason()}`);
  return module;
}

const pools: WasmPool[] = [];
function pool(threads: number, options: { initialBytes?: number; maximumBytes?: number } = {}): WasmPool {
  const created = createWasmPool(loadModule(), { threads, ...options });
  pools.push(created);
  return created;
}
afterAll(() => {
  for (const p of pools) p.dispose();
});

describe('loadSupermaskKernels', () => {
  it('compiles the committed module once, with the pool self-test kernels', () => {
    const module = loadModule();
    expect(supermaskKernelsUnavailableReason()).toBeUndefined();
    expect(loadSupermaskKernels()).toBe(module);
    const exported = WebAssembly.Module.exports(module as WebAssembly.Module).map((e) => e.name);
    expect(exported).toEqual(expect.arrayContaining(['pool_fill', 'pool_sum_sq', 'pool_mark', 'pool_trap_at', 'pool_noop', 'pool_stack_probe', '__stack_pointer', '__heap_base']));
  });
});

describe('itemRange', () => {
  it('splits [0, items) into contiguous ranges in thread order, sizes differing by at most one', () => {
    for (const threads of [1, 2, 3, 4, 7]) {
      for (const items of [0, 1, 2, 3, 5, 6, 7, 64, 101]) {
        const ranges = Array.from({ length: threads }, (_, t) => itemRange(items, threads, t));
        expect(ranges[0][0]).toBe(0);
        expect(ranges[threads - 1][1]).toBe(items);
        for (let t = 1; t < threads; t++) expect(ranges[t][0]).toBe(ranges[t - 1][1]);
        const sizes = ranges.map(([n0, n1]) => n1 - n0);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
    }
  });
});

describe('createWasmPool', () => {
  it('fills and sums identically (bit-equal float64 partials) with 1, 2 and 3 threads', () => {
    const items = 37;
    const len = 101;
    const src = uniform(items * len, 12345);
    const results: { fill: Float32Array; partials: Float64Array }[] = [];
    for (const threads of [1, 2, 3]) {
      const p = pool(threads);
      expect(p.threads).toBe(threads);
      const fillAt = p.alloc(1000 * 4, true);
      p.run('pool_fill', [fillAt, 0.25], 1000);
      const srcAt = p.alloc(src.byteLength);
      p.f32().set(src, srcAt / 4);
      const partialsAt = p.alloc(items * 8, true);
      p.run('pool_sum_sq', [srcAt, len, partialsAt], items);
      results.push({ fill: p.f32().slice(fillAt / 4, fillAt / 4 + 1000), partials: p.f64().slice(partialsAt / 8, partialsAt / 8 + items) });
    }
    // The static table of pool-check.c is seen by every thread's instance.
    expect(Array.from(results[0].fill)).toEqual(Array.from({ length: 1000 }, (_, i) => 0.25 + TABLE[i & 3]));
    const expected = Array.from({ length: items }, (_, i) => {
      let s = 0;
      for (let j = 0; j < len; j++) s += src[i * len + j] * src[i * len + j];
      return s;
    });
    expect(Array.from(results[0].partials)).toEqual(expected);
    for (const other of results.slice(1)) {
      expect(Buffer.from(other.fill.buffer).equals(Buffer.from(results[0].fill.buffer))).toBe(true);
      expect(Buffer.from(other.partials.buffer).equals(Buffer.from(results[0].partials.buffer))).toBe(true);
    }
  });

  it('covers [0, items) exactly once, also for items < threads and items = 0', () => {
    const p = pool(3);
    for (const items of [0, 1, 2, 3, 4, 5, 7, 100]) {
      p.reset();
      const counts = p.alloc((items + 16) * 4, true);
      p.run('pool_mark', [counts], items);
      const got = Array.from(p.i32().subarray(counts / 4, counts / 4 + items + 16));
      expect(got).toEqual([...Array.from({ length: items }, () => 1), ...Array.from({ length: 16 }, () => 0)]);
    }
  });

  it('grows the memory past its initial size, keeping earlier data; new views see it; workers write there', () => {
    const p = pool(2, { initialBytes: 1 << 20 });
    const first = p.alloc(64 * 4);
    p.f32().set(uniform(64, 7), first / 4);
    const before = p.f32().length;
    const far = p.alloc(8 << 20, true);
    expect(far % 64).toBe(0);
    expect(p.f32().length).toBeGreaterThan(before);
    expect(p.f32().length * 4).toBeGreaterThanOrEqual(far + (8 << 20));
    expect(Array.from(p.f32().subarray(first / 4, first / 4 + 64))).toEqual(Array.from(uniform(64, 7)));
    const n = (8 << 20) / 4;
    p.run('pool_fill', [far, 2], n);
    const view = p.f32();
    expect(view[far / 4]).toBe(2.5);
    expect(view[far / 4 + n - 1]).toBe(2 + TABLE[(n - 1) & 3]);
    expect(view[far / 4 + (n >> 1) + 1]).toBe(2 + TABLE[((n >> 1) + 1) & 3]);
    // reset frees the arena: the next allocation starts at the first offset again.
    p.reset();
    expect(p.alloc(4)).toBe(first);
  });

  it('throws a clear error past the maximum', () => {
    const p = pool(1, { initialBytes: 1 << 20, maximumBytes: 4 << 20 });
    expect(() => p.alloc(8 << 20)).toThrow(/past its maximum of 4194304 bytes/);
    expect(p.alloc(1 << 20)).toBeGreaterThan(0);
  });

  it('reports a trap as an Error naming the kernel and the thread, and stays usable', () => {
    const p = pool(3);
    // items 9 over 3 threads: [0, 3), [3, 6), [6, 9).
    expect(() => p.run('pool_trap_at', [8], 9)).toThrow(/kernel pool_trap_at failed on thread 2: RuntimeError: unreachable/);
    expect(() => p.run('pool_trap_at', [1], 9)).toThrow(/kernel pool_trap_at failed on thread 0: RuntimeError: unreachable/);
    expect(() => p.run('pool_trap_at', [0], 2)).toThrow(/kernel pool_trap_at failed on thread 0/);
    expect(() => p.call('pool_trap_at', [0, 0, 1])).toThrow(/kernel pool_trap_at failed/);
    p.run('pool_trap_at', [100], 9);
    const counts = p.alloc(9 * 4, true);
    p.run('pool_mark', [counts], 9);
    expect(Array.from(p.i32().subarray(counts / 4, counts / 4 + 9))).toEqual(Array(9).fill(1));
    expect(() => p.run('no_such_kernel', [], 9)).toThrow(/no kernel "no_such_kernel"/);
    expect(() => p.run('pool_mark', [], 9)).toThrow(/takes 3 arguments, got 2/);
  });

  it('gives every thread its own stack region, below the arena', () => {
    const p = pool(3);
    p.reset();
    const out = p.alloc(9 * 4, true);
    p.run('pool_stack_probe', [out], 9);
    const at = Array.from(p.i32().subarray(out / 4, out / 4 + 9));
    const perThread = [0, 3, 6].map((n0) => at.slice(n0, n0 + 3));
    for (const addresses of perThread) expect(new Set(addresses).size).toBe(1);
    const [t0, t1, t2] = perThread.map((addresses) => addresses[0]);
    expect(t0).toBeGreaterThan(0);
    expect(t1).toBeGreaterThan(t0);
    expect(t2 - t1).toBe(WASM_STACK_BYTES);
    expect(t2).toBeLessThan(out);
  });

  it('rejects bad options clearly', () => {
    expect(() => pool(0)).toThrow(/options.threads must be an integer in \[1, 256\], got 0/);
    expect(() => pool(2, { initialBytes: 65536 })).toThrow(/cannot instantiate the module on a shared memory of 1 to 65536 pages/);
  });

  it('call runs one export on the calling thread', () => {
    const p = pool(2);
    const at = p.alloc(8 * 4, true);
    expect(p.call('pool_fill', [at, 1, 2, 5])).toBe(0);
    expect(Array.from(p.f32().subarray(at / 4, at / 4 + 8))).toEqual([0, 0, 3.5, 4.5, 1.5, 0, 0, 0]);
  });

  it('creates no worker for one thread; dispose ends the workers and the pool refuses work', async () => {
    const before = workers.length;
    const single = pool(1);
    single.run('pool_noop', [], 10);
    expect(workers.length).toBe(before);
    const p = pool(3);
    expect(workers.length).toBe(before + 2);
    const created = workers.slice(before);
    const exits = created.map((worker) => new Promise<number>((resolve) => worker.once('exit', resolve)));
    p.run('pool_noop', [], 10);
    p.dispose();
    await expect(Promise.all(exits)).resolves.toHaveLength(2);
    expect(() => p.run('pool_noop', [], 10)).toThrow(/disposed/);
    expect(() => p.alloc(4)).toThrow(/disposed/);
  });

  it('reports a worker that ended other than by dispose, instead of waiting for it', async () => {
    const before = workers.length;
    const p = pool(3);
    p.run('pool_noop', [], 9);
    await workers[before + 1].terminate();
    expect(() => p.run('pool_noop', [], 9)).toThrow(/worker thread 2 ended unexpectedly; the pool is disposed/);
    expect(() => p.run('pool_noop', [], 9)).toThrow(/disposed/);
  });

  it('does not keep the process alive, from the compiled dist/ as from src/', () => {
    const script = `
      const { createWasmPool, loadSupermaskKernels, supermaskKernelsUnavailableReason } = await import(${JSON.stringify(join(packageDir, 'dist', 'wasm-pool.js'))});
      const module = loadSupermaskKernels();
      if (module === undefined) throw new Error(supermaskKernelsUnavailableReason());
      const pool = createWasmPool(module, { threads: 3 });
      pool.run('pool_noop', [], 9);
      console.log('ran');`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('ran');
    expect(child.status).toBe(0);
  });
});

function buildSkipReason(): string | undefined {
  for (const tool of ['clang', 'wasm-ld']) {
    try {
      const version = execFileSync(tool, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      if (tool === 'clang' && !/clang version 14\./.test(version)) return `the committed module is built with clang 14, this is ${version.split('\n')[0]}`;
    } catch {
      return `${tool} is not installed (Debian: apt-get install clang lld)`;
    }
  }
  return undefined;
}
const skipBuild = buildSkipReason();

describe('scripts/build-wasm.mjs', () => {
  it.skipIf(skipBuild !== undefined)(`rebuilds wasm/*.c to the committed module, byte for byte${skipBuild === undefined ? '' : ` (SKIPPED: ${skipBuild})`}`, () => {
    const work = mkdtempSync(join(tmpdir(), 'wasm-pool-test-'));
    try {
      const script = join(packageDir, 'scripts', 'build-wasm.mjs');
      execFileSync(process.execPath, [script, '--out', join(work, 'a.wasm')], { stdio: 'pipe' });
      execFileSync(process.execPath, [script, '--out', join(work, 'b.wasm')], { stdio: 'pipe' });
      const a = readFileSync(join(work, 'a.wasm'));
      expect(a.equals(readFileSync(join(work, 'b.wasm')))).toBe(true);
      expect(a.equals(readFileSync(join(packageDir, 'wasm', 'supermask-kernels.wasm')))).toBe(true);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
