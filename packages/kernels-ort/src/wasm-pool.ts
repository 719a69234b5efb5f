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
}
