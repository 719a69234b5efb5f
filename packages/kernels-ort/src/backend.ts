import * as tf from '@tensorflow/tfjs-core';
// The cpu backend, whose factory cpu-ort extends.
import '@tensorflow/tfjs-backend-cpu';
import { EXTRA_KERNELS, ORT_KERNELS, type CpuBackendLike, type KernelContext } from './kernels.js';
import { loadOnnxRuntime, OrtRuntime, type RuntimeOptions, type RuntimeStats } from './runtime.js';

/** Name of the backend registered by registerOrtBackend (unless another is given). */
export const ORT_BACKEND_NAME = 'cpu-ort';

export interface OrtBackendOptions extends RuntimeOptions {
  /** tfjs backend name. Default: `cpu-ort`. */
  name?: string;
}

export interface OrtBackendRegistration {
  /** The tfjs backend name (pass it to tf.setBackend). */
  backendName: string;
  /** onnxruntime-node's version. */
  ortVersion: string;
  /** Kernel names computed by ONNX Runtime; every other cpu kernel is tfjs's own. */
  kernels: string[];
  /** Thread settings of the sessions. */
  intraOpThreads: number;
  spinning: boolean;
  maxSessions: number;
  /** Work (floating-point operations) from which a kernel runs on intraOpThreads threads. */
  parallelFlops: number;
  /** Input pixels per image (height x width) from which a convolutional unit runs on intraOpThreads threads. */
  parallelPixels: number;
  /** Largest nonzero fraction of a unit's filter for which the unit runs on the sparse WebAssembly kernels (0: never). */
  sparseDensity: number;
}

/** Runtimes of live backend instances (one per backend object: a re-created backend gets a new one). */
const runtimes = new WeakMap<object, OrtRuntime>();
const registrations = new Map<string, OrtBackendRegistration>();

const context: KernelContext = {
  runtime(backend: object): OrtRuntime {
    const r = runtimes.get(backend);
    if (!r) throw new Error('this backend has no ONNX Runtime kernels (was it disposed?)');
    return r;
  },
};

/**
 * Registers a tfjs backend (`cpu-ort` by default) that is the plain cpu backend (a MathBackendCPU
 * from tfjs's own `cpu` factory, with every cpu kernel) except for the ORT_KERNELS, which ONNX
 * Runtime computes (BatchMatMul, _FusedMatMul, Conv2D, FusedConv2D, Conv2DBackpropInput,
 * Conv2DBackpropFilter, and Multiply, Add, Sub, RealDiv, Sign, Abs, Relu on large tensors), plus
 * the SupermaskOptimizerStep kernel. Plain `cpu` stays registered and usable in the same process.
 * Throws when onnxruntime-node cannot load. Registering a name twice returns the first
 * registration.
 */
export function registerOrtBackend(options: OrtBackendOptions = {}): OrtBackendRegistration {
  const name = options.name ?? ORT_BACKEND_NAME;
  const existing = registrations.get(name);
  if (existing && tf.findBackendFactory(name)) return existing;
  const ort = loadOnnxRuntime();
  if (tf.findBackendFactory(name) && tf.getKernel('BatchMatMul', name) && tf.getKernel(EXTRA_KERNELS[0]!.kernelName, name)) {
    // Registered by another copy of this package (two module instances in one process).
    const runtime = new OrtRuntime(options);
    runtime.dispose();
    return describe(name, ort.version, runtime);
  }
  const cpuFactory = tf.findBackendFactory('cpu');
  if (!cpuFactory) throw new Error('the tfjs cpu backend is not registered (import @tensorflow/tfjs-backend-cpu first)');
  // Validates the options and the binding before anything is registered.
  const probe = new OrtRuntime(options);
  probe.dispose();
  const registered = tf.registerBackend(
    name,
    () => {
      const backend = cpuFactory() as CpuBackendLike & { firstUse?: boolean };
      // The cpu backend's first write prints a banner recommending tfjs-node: not for this one.
      backend.firstUse = false;
      const runtime = new OrtRuntime(options);
      runtimes.set(backend, runtime);
      recycleOutputs(backend, runtime);
      const disposeCpu = backend.dispose.bind(backend);
      backend.dispose = () => {
        runtime.dispose();
        runtimes.delete(backend);
        disposeCpu();
      };
      return backend;
    },
    // Below cpu: never tfjs's default choice, only used when set explicitly.
    0,
  );
  if (!registered) throw new Error(`a tfjs backend named "${name}" is already registered`);
  const overridden = new Set(ORT_KERNELS.map((k) => k.kernelName));
  for (const config of tf.getKernelsForBackend('cpu')) {
    if (!overridden.has(config.kernelName)) tf.registerKernel({ ...config, backendName: name, kernelFunc: noRecycledViews(config.kernelFunc) });
  }
  for (const k of ORT_KERNELS) {
    const cpuKernel = tf.getKernel(k.kernelName, 'cpu');
    if (!cpuKernel) throw new Error(`the tfjs cpu backend has no ${k.kernelName} kernel`);
    const fallback = cpuKernel.kernelFunc;
    tf.registerKernel({
      kernelName: k.kernelName,
      backendName: name,
      kernelFunc: noRecycledViews((args) => {
        const out = k.run(args as unknown as Parameters<typeof k.run>[0], context);
        if (out) return out;
        runtimes.get(args.backend)?.noteFallback();
        return fallback(args);
      }),
    });
  }
  for (const k of EXTRA_KERNELS) {
    tf.registerKernel({
      kernelName: k.kernelName,
      backendName: name,
      kernelFunc: (args) => k.run(args as unknown as Parameters<typeof k.run>[0], context),
      // Kept on the registered config, where @supermask/core reads it.
      ...(k.appliesGradientMask ? { appliesGradientMask: true } : {}),
    } as tf.KernelConfig);
  }
  const registration = describe(name, ort.version, probe);
  registrations.set(name, registration);
  return registration;
}

function describe(name: string, ortVersion: string, runtime: OrtRuntime): OrtBackendRegistration {
  return {
    backendName: name,
    ortVersion,
    kernels: [...ORT_KERNELS, ...EXTRA_KERNELS].map((k) => k.kernelName),
    intraOpThreads: runtime.intraOpThreads,
    spinning: runtime.spinning,
    maxSessions: runtime.maxSessions,
    parallelFlops: runtime.parallelFlops,
    parallelPixels: runtime.parallelPixels,
    sparseDensity: runtime.sparseDensity,
  };
}

/**
 * Output arrays of the sparse units go back to the runtime's recycler when tfjs deletes their
 * data, and reading one back (dataSync, data) returns a copy (see recycler.ts).
 */
function recycleOutputs(backend: CpuBackendLike, runtime: OrtRuntime): void {
  const withHooks = backend as CpuBackendLike & { disposeData(dataId: tf.DataId, force?: boolean): boolean; readSync(dataId: tf.DataId): unknown };
  const disposeData = withHooks.disposeData.bind(backend);
  withHooks.disposeData = (dataId, force) => {
    const values = backend.data.get(dataId)?.values;
    const deleted = disposeData(dataId, force);
    if (deleted && values !== undefined) runtime.recycler.release(values);
    return deleted;
  };
  const readSync = withHooks.readSync.bind(backend);
  withHooks.readSync = (dataId) => {
    const values = readSync(dataId);
    return runtime.recycler.owns(values) ? values.slice() : values;
  };
  // Kernels (Gather, Tile, Reverse, ...) read their inputs through bufferSync, which goes through
  // readSync: without a copy of a recycled array there, since a kernel's buffer never outlives it.
  type BufferSync = (t: tf.TensorInfo) => tf.TensorBuffer<tf.Rank, tf.DataType>;
  const cpu = backend as unknown as { bufferSync: BufferSync };
  const bufferSync = cpu.bufferSync.bind(backend);
  cpu.bufferSync = (t) => {
    const values = backend.data.get(t.dataId)?.values;
    return runtime.recycler.owns(values) ? (tf.buffer(t.shape, t.dtype, values) as tf.TensorBuffer<tf.Rank, tf.DataType>) : bufferSync(t);
  };
}

/**
 * A kernel function whose outputs never view a recycled array: tfjs's cpu Slice (and the kernels
 * built on it) returns a subarray of its input for a contiguous slice; such an output gets a copy.
 */
function noRecycledViews(kernelFunc: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const out = kernelFunc(args);
    const runtime = runtimes.get(args.backend);
    if (runtime) {
      const backend = args.backend as CpuBackendLike;
      for (const info of Array.isArray(out) ? out : [out]) {
        const entry = backend.data.get(info.dataId) as { values?: unknown } | undefined;
        if (entry && runtime.recycler.isViewOf(entry.values)) entry.values = (entry.values as Float32Array).slice();
      }
    }
    return out;
  };
}

/** Session cache figures of the ORT backend `name` (null when it is not initialised). */
export function ortStats(name = ORT_BACKEND_NAME): RuntimeStats | null {
  return ortRuntime(name)?.getStats() ?? null;
}

/** The session cache of the ORT backend `name`, once it is initialised. */
export function ortRuntime(name = ORT_BACKEND_NAME): OrtRuntime | null {
  const backend = tf.findBackendFactory(name) ? tf.engine().registry[name] : undefined;
  return (backend && runtimes.get(backend)) ?? null;
}

/** Releases the cached sessions of the ORT backend `name` (they are made again on demand). */
export function clearOrtSessions(name = ORT_BACKEND_NAME): void {
  const backend = tf.engine().registry[name];
  if (backend) runtimes.get(backend)?.clear();
}

/** Removes the backend `name` and its kernels (disposing it releases its sessions). */
export function unregisterOrtBackend(name = ORT_BACKEND_NAME): void {
  if (!registrations.has(name)) return;
  if (tf.findBackendFactory(name)) tf.removeBackend(name);
  for (const config of tf.getKernelsForBackend(name)) tf.unregisterKernel(config.kernelName, name);
  registrations.delete(name);
}
