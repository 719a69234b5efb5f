import { createRequire } from 'node:module';
import os from 'node:os';
import { ArrayRecycler } from './recycler.js';
import { createWasmPool, loadSupermaskKernels, supermaskKernelsUnavailableReason, type WasmPool } from './wasm-pool.js';

/**
 * onnxruntime-node, used through its native binding: `loadModel` and `run` of the binding's
 * InferenceSession are synchronous (the public `InferenceSession.create` / `run` only wrap them
 * in promises), and a tfjs kernel must return synchronously.
 */
interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: Record<string, unknown>): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, null>, options: Record<string, unknown>): Record<string, { data: Float32Array; dims: readonly number[] }>;
  dispose(): void;
}

interface OrtModules {
  binding: { InferenceSession: new () => NativeSession };
  initOrt: () => void;
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
  version: string;
}

let loaded: OrtModules | undefined;

/**
 * Loads onnxruntime-node (CommonJS) and its native binding; throws with the loader's message
 * when the package or its binary for this platform is missing.
 */
export function loadOnnxRuntime(): OrtModules {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const ort = require('onnxruntime-node') as { Tensor: OrtModules['Tensor']; env: { versions: Record<string, string> } };
  const bindingModule = require('onnxruntime-node/dist/binding.js') as Pick<OrtModules, 'binding' | 'initOrt'>;
  if (typeof bindingModule.binding?.InferenceSession !== 'function' || typeof bindingModule.initOrt !== 'function') {
    throw new Error('onnxruntime-node has no synchronous native binding (dist/binding.js) in this version');
  }
  bindingModule.initOrt();
  loaded = { ...bindingModule, Tensor: ort.Tensor, version: ort.env.versions.node ?? ort.env.versions.common ?? 'unknown' };
  return loaded;
}

/** Thread settings of every session (see the package README for the measurements behind the defaults). */
export interface ThreadOptions {
  /**
   * Threads of ONNX Runtime's intra-op pool per session, the calling thread included.
   * Default: $SUPERMASK_ORT_THREADS, else 2; capped at the number of cores.
   */
  intraOpThreads?: number;
  /**
   * Whether idle pool threads spin waiting for work (`session.intra_op.allow_spinning`).
   * Default: $SUPERMASK_ORT_SPINNING = 1, else false.
   */
  spinning?: boolean;
}

function envThreads(): number | undefined {
  const v = Number(process.env.SUPERMASK_ORT_THREADS);
  return Number.isInteger(v) && v > 0 ? v : undefined;
}

/** The finite number >= 0 in environment variable `name`, else `fallback`. */
function envThreshold(name: string, fallback: number): number {
  const v = process.env[name] ? Number(process.env[name]) : NaN;
  return Number.isFinite(v) && v >= 0 ? v : fallback;
}

export interface RuntimeOptions extends ThreadOptions {
  /**
   * Floating-point operations from which a kernel runs on intraOpThreads threads; smaller ones run
   * on the calling thread alone (handing a sub-millisecond op to a second thread costs more than
   * it gains when the JS thread has work of its own). Default: $SUPERMASK_ORT_PARALLEL_FLOPS, else 5e7.
   */
  parallelFlops?: number;
  /**
   * Input pixels per image (height x width) from which a convolutional unit (SupermaskConvBn and
   * its gradient) runs on intraOpThreads threads; a unit on smaller feature maps runs on one.
   * ONNX Runtime parallelises a convolution within each image's GEMMs: on a few pixels
   * (ResNet-18's 8x8 and 4x4 stages) the second thread saves no time and costs CPU time in
   * hand-offs (see the package README). Default: $SUPERMASK_ORT_PARALLEL_PIXELS, else 256.
   */
  parallelPixels?: number;
  /** Most sessions kept (least recently used ones are released beyond it). Default: 128. */
  maxSessions?: number;
  /**
   * Largest fraction of nonzero values in a conv + batch-norm unit's filter (the effective weight
   * W * M) for which the unit runs on the sparse WebAssembly kernels, which skip the zeros (see
   * the package README); denser filters run on ONNX Runtime's dense sessions. 0 turns the sparse
   * units off. $SUPERMASK_SPARSE_CONV=0 turns them off and =1 uses them whatever the density.
   * Default: $SUPERMASK_SPARSE_DENSITY, else 0.3.
   */
  sparseDensity?: number;
}

export interface RuntimeStats {
  /** Sessions alive now. */
  sessions: number;
  /** Sessions created so far (cache misses). */
  created: number;
  /** Sessions released to respect maxSessions. */
  evicted: number;
  /** Kernel executions by ONNX Runtime. */
  runs: number;
  /** Executions left to the plain cpu kernel (a dtype or shape ORT does not take, or an elementwise op too small to pay). */
  fallbacks: number;
  /** Conv + batch-norm unit calls (forward or backward) computed by the sparse WebAssembly kernels. */
  sparseRuns: number;
}

/** One input of a session run: float32 data and its dims. */
export interface Feed {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * Sessions of one-node or few-node graphs, one per op signature (op, attributes and the static
 * parts of the shapes), in a bounded LRU cache. Released on dispose.
 */
export class OrtRuntime {
  readonly intraOpThreads: number;
  readonly spinning: boolean;
  readonly maxSessions: number;
  readonly parallelFlops: number;
  readonly parallelPixels: number;
  readonly sparseDensity: number;
  /** Output arrays of the sparse units, reused after tfjs disposes them (see recycler.ts). */
  readonly recycler = new ArrayRecycler();
  private readonly ort: OrtModules;
  /** The WebAssembly kernels' thread pool: made on first use; null once they proved unavailable. */
  private pool: WasmPool | null | undefined;
  private readonly sessions = new Map<string, NativeSession>();
  /** Session options by thread count (1 and intraOpThreads). */
  private readonly sessionOptions = new Map<number, Record<string, unknown>>();
  private readonly stats = { created: 0, evicted: 0, runs: 0, fallbacks: 0, sparseRuns: 0 };
  private disposed = false;

  constructor(options: RuntimeOptions = {}, cores = defaultCores()) {
    this.ort = loadOnnxRuntime();
    this.intraOpThreads = Math.max(1, Math.min(options.intraOpThreads ?? envThreads() ?? 2, cores));
    this.spinning = options.spinning ?? process.env.SUPERMASK_ORT_SPINNING === '1';
    this.maxSessions = Math.max(1, options.maxSessions ?? 128);
    this.parallelFlops = options.parallelFlops ?? envThreshold('SUPERMASK_ORT_PARALLEL_FLOPS', 5e7);
    this.parallelPixels = options.parallelPixels ?? envThreshold('SUPERMASK_ORT_PARALLEL_PIXELS', 256);
    const envDensity = process.env.SUPERMASK_SPARSE_DENSITY || undefined;
    const fromEnv = options.sparseDensity === undefined && envDensity !== undefined;
    this.sparseDensity = options.sparseDensity ?? (fromEnv ? Number(envDensity) : 0.3);
    if (!(this.sparseDensity >= 0 && this.sparseDensity <= 1)) {
      const source = fromEnv ? `SUPERMASK_SPARSE_DENSITY must be a number in [0, 1] (0 turns the sparse units off), got "${envDensity}"` : `sparseDensity must be a number in [0, 1] (0 turns the sparse units off), got ${options.sparseDensity}`;
      throw new Error(source);
    }
    for (const threads of new Set([1, this.intraOpThreads])) {
      this.sessionOptions.set(threads, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        enableCpuMemArena: true,
        logSeverityLevel: 3,
        extra: { session: { intra_op: { allow_spinning: this.spinning ? '1' : '0' }, inter_op: { allow_spinning: '0' } } },
      });
    }
  }

  /** onnxruntime-node's version. */
  get version(): string {
    return this.ort.version;
  }

  /**
   * Runs the graph cached under `key` (built by `build` on a miss) on `feeds` (graph inputs named
   * in0, in1, ... in order) and returns its output `y`.
   */
  run(key: string, build: () => Uint8Array, feeds: readonly Feed[], flops = 0, outDims?: readonly number[]): Float32Array {
    return this.runOutputs(key, build, feeds, ['y'], flops, undefined, outDims && [outDims])[0]!;
  }

  /**
   * Like run, for a graph with several outputs: returns them in the order of `outputs` (written into
   * arrays from the recycler where `outDims` gives the output's dims, which must be its exact ones). `flops`,
   * the work of this call, decides between a single-threaded and a multi-threaded session, and so
   * does `pixels` when given (a convolutional unit's input height x width, against
   * parallelPixels).
   */
  runOutputs(key: string, build: () => Uint8Array, feeds: readonly Feed[], outputs: readonly string[], flops = 0, pixels?: number, outDims?: readonly (readonly number[])[]): Float32Array[] {
    if (this.disposed) throw new Error('the ONNX Runtime kernels of this backend were disposed');
    const threads = this.threadsFor(flops, pixels);
    const session = this.session(`${key}|t${threads}`, build, threads);
    const inputs: Record<string, unknown> = {};
    feeds.forEach((f, i) => {
      inputs[`in${i}`] = new this.ort.Tensor('float32', f.data, f.dims);
    });
    // An output whose dims the caller gives is written into an array from the recycler (a
    // pre-allocated fetch): no fresh pages for ONNX Runtime's output and no copy of it into JS.
    const fetches: Record<string, unknown> = {};
    const given: (Float32Array | undefined)[] = outputs.map((name, i) => {
      const dims = outDims?.[i];
      const length = dims?.reduce((a, b) => a * b, 1) ?? 0;
      const array = length > 0 ? this.recycler.take(length) : undefined;
      fetches[name] = array ? new this.ort.Tensor('float32', array, dims!) : null;
      return array;
    });
    const out = session.run(inputs, fetches as Record<string, null>, {});
    this.stats.runs++;
    return outputs.map((name, i) => given[i] ?? out[name]!.data);
  }

  /** Threads a call runs on: intraOpThreads when its work reaches parallelFlops (and its pixels, when given, parallelPixels), else 1. */
  threadsFor(flops: number, pixels?: number): number {
    return flops >= this.parallelFlops && (pixels === undefined || pixels >= this.parallelPixels) ? this.intraOpThreads : 1;
  }

  /** The keys of the sessions alive, least recently used first (each with its thread count, `|t<n>`). */
  sessionKeys(): string[] {
    return [...this.sessions.keys()];
  }

  /**
   * The WebAssembly kernels' pool when a unit whose filter has this fraction of nonzero values
   * should run sparse (see sparseDensity), else undefined; `density` may be a function, called
   * only when the answer depends on it. The pool (intraOpThreads threads) is
   * made on the first call; when the module cannot load, the reason is printed once and the dense
   * sessions are used from then on.
   */
  sparseUnits(density: number | (() => number)): WasmPool | undefined {
    const mode = process.env.SUPERMASK_SPARSE_CONV;
    if (mode !== undefined && mode !== '' && mode !== '0' && mode !== '1') throw new Error(`SUPERMASK_SPARSE_CONV must be 0 (dense units) or 1 (sparse units), got "${mode}"`);
    if (mode === '0' || (mode !== '1' && (this.sparseDensity === 0 || (typeof density === 'function' ? density() : density) > this.sparseDensity))) return undefined;
    if (this.disposed) throw new Error('the ONNX Runtime kernels of this backend were disposed');
    if (this.pool?.disposed) this.pool = undefined;
    if (this.pool === undefined) {
      const module = loadSupermaskKernels();
      const off = (why: string): void => {
        console.warn(`supermask: the sparse conv + batch-norm units are off (${why}); dense ONNX Runtime units are used`);
        this.pool = null;
      };
      if (!module) off(supermaskKernelsUnavailableReason() ?? 'the WebAssembly kernels did not load');
      else {
        try {
          this.pool = createWasmPool(module, { threads: this.intraOpThreads });
        } catch (error) {
          off(`their thread pool did not start: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
    return this.pool ?? undefined;
  }

  /** Arrays for the sparse units' outputs, from the recycler. */
  readonly outputArrays = (length: number): Float32Array => this.recycler.take(length);

  noteSparseRun(): void {
    this.stats.sparseRuns++;
  }

  noteFallback(): void {
    this.stats.fallbacks++;
  }

  getStats(): RuntimeStats {
    return { sessions: this.sessions.size, ...this.stats };
  }

  /** Releases every session (the runtime can still be used: sessions are made again on demand). */
  clear(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
  }

  /** Releases every session and the WebAssembly kernels' threads; later runs throw. */
  dispose(): void {
    this.clear();
    this.pool?.dispose();
    this.pool = null;
    this.recycler.clear();
    this.disposed = true;
  }

  private session(key: string, build: () => Uint8Array, threads: number): NativeSession {
    let session = this.sessions.get(key);
    if (session) {
      // Most recently used last: Map iteration order is insertion order.
      this.sessions.delete(key);
      this.sessions.set(key, session);
      return session;
    }
    const bytes = build();
    session = new this.ort.binding.InferenceSession();
    session.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, this.sessionOptions.get(threads)!);
    this.stats.created++;
    this.sessions.set(key, session);
    while (this.sessions.size > this.maxSessions) {
      const [oldestKey, oldest] = this.sessions.entries().next().value as [string, NativeSession];
      this.sessions.delete(oldestKey);
      oldest.dispose();
      this.stats.evicted++;
    }
    return session;
  }
}

function defaultCores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}
