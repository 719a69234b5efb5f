/**
 * The code of one worker thread of a WasmPool (src/wasm-pool.ts), run as an ES module from a `data:` URL
 * (`workerUrl()`), so that it needs no file next to the compiled module (vitest runs src/ as TypeScript, which a
 * worker cannot load) and does not depend on the parent's flags (`eval: true` code follows `--input-type`).
 *
 * The worker instantiates the module on the shared memory (its start function `__wasm_init_memory` sees the data
 * segments already initialised by the calling thread's instance and only drops them), moves its stack pointer to its
 * own region, then serves jobs: it waits until the control block's generation changes, calls the kernel on its item
 * range, records the first error (a trap) as text in the control block, and counts itself done.
 */

/** Int32 slots of the control block (a SharedArrayBuffer separate from the wasm memory). */
export const CONTROL = {
  generation: 0,
  pending: 1,
  func: 2,
  argc: 3,
  stop: 4,
  errorThread: 5,
  errorLength: 6,
  ready: 7,
  exited: 8,
  ranges: 16,
} as const;
export const MAX_THREADS = 256;
/** Atomics.load polls before a thread sleeps in Atomics.wait (a few microseconds): wake-ups cost tens of microseconds. */
export const SPIN_LOADS = 2000;
/**
 * Longest single Atomics.wait (ms) of the workers and of `run`: they wait in slices and check the condition again, so
 * a lost wake-up costs one slice, not a hang (one was seen once in ~100 runs of millions of jobs and not reproduced).
 */
export const WAIT_SLICE_MS = 100;
export const MAX_ARGS = 64;
export const ARGS_BYTE = 4096;
export const ERROR_BYTE = ARGS_BYTE + MAX_ARGS * 8;
export const ERROR_BYTES = 4096;
export const CONTROL_BYTES = ERROR_BYTE + ERROR_BYTES;

export interface WorkerData {
  module: object;
  memory: object;
  control: SharedArrayBuffer;
  thread: number;
  names: string[];
  stackTop: number;
  generation: number;
}

const WORKER_SOURCE = `
import { workerData } from 'node:worker_threads';
const { module, memory, control, thread, names, stackTop } = workerData;
const GENERATION = ${CONTROL.generation}, PENDING = ${CONTROL.pending}, FUNC = ${CONTROL.func}, ARGC = ${CONTROL.argc};
const READY = ${CONTROL.ready}, EXITED = ${CONTROL.exited}, SLICE = ${WAIT_SLICE_MS}, STOP = ${CONTROL.stop}, ERROR_THREAD = ${CONTROL.errorThread}, ERROR_LENGTH = ${CONTROL.errorLength};
const SPIN = ${SPIN_LOADS};
const RANGE = ${CONTROL.ranges} + 2 * thread;
const ctrl = new Int32Array(control);
const args = new Float64Array(control, ${ARGS_BYTE}, ${MAX_ARGS});
const text = new Uint8Array(control, ${ERROR_BYTE}, ${ERROR_BYTES});
let fns;
let startError;
try {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  instance.exports.__stack_pointer.value = stackTop;
  fns = names.map((name) => instance.exports[name]);
} catch (error) {
  startError = error;
}
// A worker that ends (an uncaught error, terminate) other than by dispose wakes the calling thread, which reports it.
process.on('exit', () => {
  if (Atomics.load(ctrl, STOP) !== 0) return;
  Atomics.compareExchange(ctrl, EXITED, 0, thread + 1);
  Atomics.notify(ctrl, PENDING);
  Atomics.notify(ctrl, READY);
});
// Ready (also after a failed start: every job then reports startError).
Atomics.add(ctrl, READY, 1);
Atomics.notify(ctrl, READY);
function report(error) {
  if (Atomics.compareExchange(ctrl, ERROR_THREAD, 0, thread + 1) !== 0) return;
  const message = startError !== undefined ? 'the worker could not instantiate the module: ' + String(error) : String(error && error.stack ? error.stack : error);
  const bytes = new TextEncoder().encode(message).subarray(0, ${ERROR_BYTES});
  text.set(bytes);
  Atomics.store(ctrl, ERROR_LENGTH, bytes.length);
}
let seen = workerData.generation;
for (;;) {
  // Spin a little before sleeping: kernels of one backend op follow each other within microseconds.
  for (let spin = 0; spin < SPIN && Atomics.load(ctrl, GENERATION) === seen; spin++);
  while (Atomics.load(ctrl, GENERATION) === seen) Atomics.wait(ctrl, GENERATION, seen, SLICE);
  seen = Atomics.load(ctrl, GENERATION);
  if (Atomics.load(ctrl, STOP) !== 0) break;
  const n0 = ctrl[RANGE], n1 = ctrl[RANGE + 1];
  if (n1 > n0) {
    if (startError !== undefined) report(startError);
    else {
      const argc = ctrl[ARGC];
      const call = new Array(argc + 2);
      for (let i = 0; i < argc; i++) call[i] = args[i];
      call[argc] = n0;
      call[argc + 1] = n1;
      try {
        fns[ctrl[FUNC]].apply(undefined, call);
      } catch (error) {
        report(error);
      }
    }
  }
  if (Atomics.sub(ctrl, PENDING, 1) === 1) Atomics.notify(ctrl, PENDING);
}
`;

/** The worker's code as a `data:` URL for `new Worker(url)`. */
export function workerUrl(): URL {
  return new URL(`data:text/javascript,${encodeURIComponent(WORKER_SOURCE)}`);
}
