import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WASM_MAX_PAGES, WASM_PAGE_BYTES, webAssembly } from './wasm-api.js';
import type { WasmGlobal, WasmInstance, WasmModule } from './wasm-api.js';
import { ARGS_BYTE, CONTROL, CONTROL_BYTES, ERROR_BYTE, ERROR_BYTES, MAX_ARGS, MAX_THREADS, SPIN_LOADS, WAIT_SLICE_MS, workerUrl } from './wasm-worker.js';
import type { WorkerData } from './wasm-worker.js';

/**
 * A pool of threads that run the exported kernels of one WebAssembly module over a shared
 * memory (the module is built from packages/kernels-ort/wasm/*.c by scripts/build-wasm.mjs).
 *
 * Contract between the pool and the kernels:
 * - every kernel that `run` calls takes its own arguments (numbers: byte offsets into the memory,
 *   sizes, flags), then `n0, n1`: the half-open range of items (usually images of the batch) the
 *   calling thread computes. A kernel writes only what its items own (per-item partial results
 *   for reductions), so its result does not depend on how the range is split, i.e. on the thread
 *   count;
 * - memory is allocated from an arena that `reset` frees at once (one kernel call of the backend
 *   resets it first); offsets stay valid until the next `reset`, views must be taken again after
 *   `alloc` (growing the memory replaces its buffer).
 */
export interface WasmPool {
  /** Threads that run a kernel, the calling one included. */
  readonly threads: number;
  /** Float32 view of the whole memory (take it again after `alloc`). */
  f32(): Float32Array;
  /** Int32 view of the whole memory (take it again after `alloc`). */
  i32(): Int32Array;
  /** Float64 view of the whole memory (take it again after `alloc`). */
  f64(): Float64Array;
  /** Frees every allocation of the arena. */
  reset(): void;
  /** Allocates `bytes` in the arena (64-byte aligned; zero-filled when `zero`), returns the byte offset. */
  alloc(bytes: number, zero?: boolean): number;
  /** Runs exported kernel `name` on every thread: thread t calls name(...args, n0, n1) on its share of [0, items); returns when all are done. */
  run(name: string, args: readonly number[], items: number): void;
  /** Calls an export once on the calling thread. */
  call(name: string, args: readonly number[]): number;
  /** Ends the worker threads; the pool is unusable afterwards. */
  dispose(): void;
  /** Whether the pool was disposed (by dispose, or because a worker thread ended). */
  readonly disposed: boolean;
}

/** Options of `createWasmPool`. */
export interface WasmPoolOptions {
  /** Threads that run a kernel, the calling one included (1: no worker). */
  threads: number;
  /** Initial size of the shared memory in bytes (rounded up to 64 KiB pages; default 16 MiB); `alloc` grows it. */
  initialBytes?: number;
  /** Largest size of the shared memory in bytes (default and most: 4 GiB, the module's maximum). */
  maximumBytes?: number;
}

const DEFAULT_INITIAL_BYTES = 16 * 1024 * 1024;
/** Stack of each worker's instance (the build links the calling thread's stack with the same size). */
export const WASM_STACK_BYTES = 65536;
const ALIGN = 64;
/** How long the first multi-threaded `run` waits for the workers to start. */
const WORKER_START_MS = 30_000;

const align = (value: number, to: number): number => Math.ceil(value / to) * to;

/**
 * Thread t's share of [0, items) among `threads`: contiguous, in thread order, sizes differing by at most one
 * (the first `items % threads` threads get one more).
 */
export function itemRange(items: number, threads: number, thread: number): [number, number] {
  const base = Math.floor(items / threads);
  const extra = items % threads;
  const n0 = thread * base + Math.min(thread, extra);
  return [n0, n0 + base + (thread < extra ? 1 : 0)];
}

function positiveInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`createWasmPool: ${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

function errorText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
}

/**
 * A pool of `threads` threads over one shared `WebAssembly.Memory`: the calling thread (thread 0) and
 * `threads - 1` worker_threads, each with its own instance of `module` (built by scripts/build-wasm.mjs: it
 * imports `env.memory` shared, exports `__heap_base` and `__stack_pointer`). Every worker's instance gets its own
 * stack region above the module's static data and stack; the arena starts above them.
 */
export function createWasmPool(module: WasmModule, options: WasmPoolOptions): WasmPool {
  const wa = webAssembly();
  if (wa === undefined) throw new Error('createWasmPool: this runtime has no WebAssembly');
  if (!(module instanceof wa.Module)) throw new TypeError('createWasmPool: module must be a compiled WebAssembly.Module');
  const threads = positiveInteger(options.threads, 'options.threads', 1, MAX_THREADS);
  const maxPages = Math.ceil(positiveInteger(options.maximumBytes ?? WASM_MAX_PAGES * WASM_PAGE_BYTES, 'options.maximumBytes', 1, WASM_MAX_PAGES * WASM_PAGE_BYTES) / WASM_PAGE_BYTES);
  const initialPages = Math.ceil(positiveInteger(options.initialBytes ?? Math.min(DEFAULT_INITIAL_BYTES, maxPages * WASM_PAGE_BYTES), 'options.initialBytes', 1, maxPages * WASM_PAGE_BYTES) / WASM_PAGE_BYTES);
  const imports = wa.Module.imports(module);
  if (imports.length !== 1 || imports[0].module !== 'env' || imports[0].name !== 'memory' || imports[0].kind !== 'memory') {
    throw new Error(`createWasmPool: the module must import only env.memory, it imports ${imports.map((i) => `${i.module}.${i.name}`).join(', ') || 'nothing'}`);
  }
  const memory = new wa.Memory({ initial: initialPages, maximum: maxPages, shared: true });
  let main: WasmInstance;
  try {
    // Its start function (__wasm_init_memory, when the module has static data) initialises the data segments once.
    main = new wa.Instance(module, { env: { memory } });
  } catch (error) {
    throw new Error(`createWasmPool: cannot instantiate the module on a shared memory of ${initialPages} to ${maxPages} pages (initialBytes below its static data and stack, or maximumBytes above its maximum?): ${String(error)}`);
  }
  const globalValue = (name: string): WasmGlobal => {
    const value = main.exports[name] as WasmGlobal | undefined;
    if (value === undefined || typeof value.value !== 'number') throw new Error(`createWasmPool: the module does not export the global ${name} (build it with scripts/build-wasm.mjs)`);
    return value;
  };
  const heapBase = globalValue('__heap_base').value >>> 0;
  globalValue('__stack_pointer');
  for (const init of ['_initialize', '__wasm_call_ctors']) {
    const fn = main.exports[init];
    if (typeof fn === 'function') {
      (fn as () => void)();
      break;
    }
  }
  const stacksBase = align(heapBase, ALIGN);
  const arenaBase = stacksBase + (threads - 1) * WASM_STACK_BYTES;
  const maxBytes = maxPages * WASM_PAGE_BYTES;
  if (arenaBase > maxBytes) throw new Error(`createWasmPool: the stacks of ${threads} threads need ${arenaBase} bytes, past maximumBytes ${maxBytes}`);

  const functions = new Map<string, { index: number; fn: (...args: number[]) => unknown }>();
  const names: string[] = [];
  for (const { name, kind } of wa.Module.exports(module)) {
    if (kind !== 'function') continue;
    functions.set(name, { index: names.length, fn: main.exports[name] as (...args: number[]) => unknown });
    names.push(name);
  }

  const control = new SharedArrayBuffer(CONTROL_BYTES);
  const ctrl = new Int32Array(control);
  const args = new Float64Array(control, ARGS_BYTE, MAX_ARGS);
  const errorBytes = new Uint8Array(control, ERROR_BYTE, ERROR_BYTES);
  const workers: Worker[] = [];
  let disposed = false;
  let top = arenaBase;
  let viewBytes = -1;
  let f32: Float32Array = new Float32Array(0);
  let i32: Int32Array = new Int32Array(0);
  let f64: Float64Array = new Float64Array(0);

  const grow = (end: number): void => {
    const have = memory.buffer.byteLength;
    if (end <= have) return;
    if (end > maxBytes) throw new Error(`WasmPool.alloc: the arena needs ${end} bytes of memory, past its maximum of ${maxBytes} bytes`);
    const havePages = have / WASM_PAGE_BYTES;
    // Grow by at least a quarter of the memory so a run of growing allocations does not grow it page by page.
    const pages = Math.min(maxPages, Math.max(Math.ceil(end / WASM_PAGE_BYTES), havePages + Math.ceil(havePages / 4)));
    memory.grow(pages - havePages);
  };
  grow(arenaBase);

  const url = workerUrl();
  for (let thread = 1; thread < threads; thread++) {
    const data: WorkerData = { module, memory, control, thread, names, stackTop: stacksBase + thread * WASM_STACK_BYTES, generation: Atomics.load(ctrl, CONTROL.generation) };
    const worker = new Worker(url, { workerData: data });
    worker.unref();
    // A worker ended between runs (terminate, a crash): the next run reports it (one that ends during a run says so itself).
    worker.once('exit', () => {
      if (!disposed) Atomics.compareExchange(ctrl, CONTROL.exited, 0, thread + 1);
    });
    workers.push(worker);
  }

  let started = threads === 1;
  /** Waits (at most WORKER_START_MS) until every worker has its instance, so a worker that cannot start is an error, not a hang. */
  const awaitWorkers = (name: string): void => {
    const deadline = Date.now() + WORKER_START_MS;
    for (;;) {
      const ready = Atomics.load(ctrl, CONTROL.ready);
      if (ready === threads - 1) break;
      checkExited(name);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`WasmPool.run(${name}): only ${ready} of ${threads - 1} worker threads started within ${WORKER_START_MS / 1000} s`);
      Atomics.wait(ctrl, CONTROL.ready, ready, Math.min(left, WAIT_SLICE_MS));
    }
    started = true;
  };

  /** Throws (and disposes the pool) when a worker thread has ended other than by dispose. */
  const checkExited = (name: string): void => {
    const exited = Atomics.load(ctrl, CONTROL.exited);
    if (exited === 0) return;
    dispose();
    throw new Error(`WasmPool.run(${name}): worker thread ${exited - 1} ended unexpectedly; the pool is disposed`);
  };

  const lookup = (name: string, argc: number, what: string): { index: number; fn: (...args: number[]) => unknown } => {
    if (disposed) throw new Error(`WasmPool.${what}(${name}): the pool was disposed`);
    const entry = functions.get(name);
    if (entry === undefined) throw new Error(`WasmPool.${what}: the module has no kernel ${JSON.stringify(name)} (it exports ${names.join(', ')})`);
    if (entry.fn.length !== argc) throw new Error(`WasmPool.${what}(${name}): the kernel takes ${entry.fn.length} arguments, got ${argc}${what === 'run' ? ' (args + n0, n1)' : ''}`);
    return entry;
  };

  return {
    threads,
    get disposed() {
      return disposed;
    },
    f32() {
      refresh();
      return f32;
    },
    i32() {
      refresh();
      return i32;
    },
    f64() {
      refresh();
      return f64;
    },
    reset() {
      top = arenaBase;
    },
    alloc(bytes, zero = false) {
      if (disposed) throw new Error('WasmPool.alloc: the pool was disposed');
      if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`WasmPool.alloc: bytes must be a non-negative integer, got ${bytes}`);
      const offset = align(top, ALIGN);
      grow(offset + bytes);
      top = offset + bytes;
      if (zero) new Uint8Array(memory.buffer, offset, bytes).fill(0);
      return offset;
    },
    run(name, runArgs, items) {
      const { index, fn } = lookup(name, runArgs.length + 2, 'run');
      if (!Number.isInteger(items) || items < 0) throw new RangeError(`WasmPool.run(${name}): items must be a non-negative integer, got ${items}`);
      if (runArgs.length > MAX_ARGS) throw new RangeError(`WasmPool.run(${name}): at most ${MAX_ARGS} arguments, got ${runArgs.length}`);
      if (items === 0) return;
      if (threads === 1 || items < threads) {
        try {
          fn(...runArgs, 0, items);
        } catch (error) {
          throw new Error(`WasmPool.run: kernel ${name} failed on thread 0: ${errorText(error)}`, { cause: error });
        }
        return;
      }
      if (!started) awaitWorkers(name);
      for (let thread = 0; thread < threads; thread++) {
        const [n0, n1] = itemRange(items, threads, thread);
        ctrl[CONTROL.ranges + 2 * thread] = n0;
        ctrl[CONTROL.ranges + 2 * thread + 1] = n1;
      }
      for (let i = 0; i < runArgs.length; i++) args[i] = runArgs[i];
      ctrl[CONTROL.func] = index;
      ctrl[CONTROL.argc] = runArgs.length;
      ctrl[CONTROL.errorThread] = 0;
      Atomics.store(ctrl, CONTROL.pending, threads - 1);
      Atomics.add(ctrl, CONTROL.generation, 1);
      Atomics.notify(ctrl, CONTROL.generation);
      let failure: unknown;
      try {
        fn(...runArgs, ctrl[CONTROL.ranges], ctrl[CONTROL.ranges + 1]);
      } catch (error) {
        failure = error;
      }
      for (let spin = 0; spin < SPIN_LOADS && Atomics.load(ctrl, CONTROL.pending) !== 0; spin++);
      for (;;) {
        const pending = Atomics.load(ctrl, CONTROL.pending);
        if (pending === 0) break;
        checkExited(name);
        Atomics.wait(ctrl, CONTROL.pending, pending, WAIT_SLICE_MS);
      }
      if (failure !== undefined) throw new Error(`WasmPool.run: kernel ${name} failed on thread 0: ${errorText(failure)}`, { cause: failure });
      const thread = Atomics.load(ctrl, CONTROL.errorThread);
      if (thread !== 0) {
        const text = new TextDecoder().decode(errorBytes.slice(0, Atomics.load(ctrl, CONTROL.errorLength)));
        throw new Error(`WasmPool.run: kernel ${name} failed on thread ${thread - 1}: ${text}`);
      }
    },
    call(name, callArgs) {
      const { fn } = lookup(name, callArgs.length, 'call');
      let result: unknown;
      try {
        result = fn(...callArgs);
      } catch (error) {
        throw new Error(`WasmPool.call: kernel ${name} failed: ${errorText(error)}`, { cause: error });
      }
      return result === undefined ? 0 : Number(result);
    },
    dispose,
  };

  function dispose(): void {
    if (disposed) return;
    disposed = true;
    Atomics.store(ctrl, CONTROL.stop, 1);
    Atomics.add(ctrl, CONTROL.generation, 1);
    Atomics.notify(ctrl, CONTROL.generation);
    for (const worker of workers) void worker.terminate();
  }

  function refresh(): void {
    const buffer = memory.buffer;
    if (buffer.byteLength === viewBytes) return;
    viewBytes = buffer.byteLength;
    f32 = new Float32Array(buffer);
    i32 = new Int32Array(buffer);
    f64 = new Float64Array(buffer);
  }
}

let loaded: { module?: WasmModule; reason?: string } | undefined;

/** Where the committed module lies (next to src/ and dist/). */
export const SUPERMASK_KERNELS_URL = new URL('../wasm/supermask-kernels.wasm', import.meta.url);

/**
 * The compiled kernels module (wasm/supermask-kernels.wasm, compiled synchronously once), or undefined where it
 * cannot be used: file missing, no SharedArrayBuffer, WebAssembly threads or SIMD unsupported
 * (`supermaskKernelsUnavailableReason()` says which).
 */
export function loadSupermaskKernels(): WasmModule | undefined {
  loaded ??= loadModule();
  return loaded.module;
}

/** Why `loadSupermaskKernels()` returns undefined (undefined when it returns the module). */
export function supermaskKernelsUnavailableReason(): string | undefined {
  loaded ??= loadModule();
  return loaded.reason;
}

function loadModule(): { module?: WasmModule; reason?: string } {
  const wa = webAssembly();
  if (wa === undefined) return { reason: 'this runtime has no WebAssembly' };
  if (typeof SharedArrayBuffer === 'undefined') return { reason: 'this runtime has no SharedArrayBuffer (WebAssembly threads)' };
  try {
    new wa.Memory({ initial: 1, maximum: 1, shared: true });
  } catch (error) {
    return { reason: `this runtime has no shared WebAssembly memory (threads): ${String(error)}` };
  }
  const file = fileURLToPath(SUPERMASK_KERNELS_URL);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    return { reason: `cannot read ${file} (build it with npm run build:wasm -w @supermask/kernels-ort): ${String(error)}` };
  }
  try {
    return { module: new wa.Module(bytes) };
  } catch (error) {
    return { reason: `cannot compile ${file} (does this runtime support WebAssembly SIMD and threads?): ${String(error)}` };
  }
}
