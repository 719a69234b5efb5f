import * as tf from '@tensorflow/tfjs-core';
// The cpu backend, and tfjs-core's gradients and chained ops (x.mul(y)): what @tensorflow/tfjs registered
// besides parts supermask does not use (layers, converter, data, webgl). See scripts/bundle-tfjs-registrations.mjs.
import '@tensorflow/tfjs-backend-cpu';
import '../vendor/tfjs-registrations.mjs';
import { firstLineOf as firstLine } from './errors.js';
import { activateWebGpu, adapterLabel, probeWebGpu, DAWN_MODULE, WEBGPU_BACKEND_MODULE, type AdapterDescription } from './webgpu.js';

/**
 * Backends a run can ask for.
 * - `auto`: the fastest available: WebGPU on a hardware GPU, else native TensorFlow, else cpu with
 *   ONNX Runtime kernels, else plain cpu.
 * - `tensorflow`: native TensorFlow (@tensorflow/tfjs-node-gpu or -node), an error without it.
 * - `cpu`: the cpu backend with ONNX Runtime kernels (@supermask/kernels-ort) when they load, else plain cpu.
 * - `cpu-plain`: tfjs's pure-JS cpu backend, nothing else loaded.
 * - `webgpu`: tfjs's WebGPU backend over Dawn (npm `webgpu`) on any adapter, software ones
 *   (lavapipe, SwiftShader) included; an error without one.
 */
export const BACKEND_CHOICES = ['auto', 'tensorflow', 'cpu', 'cpu-plain', 'webgpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface BackendSelection {
  /** The tfjs backend in use (tf.getBackend()): `webgpu`, `tensorflow`, `cpu-ort` or `cpu`. */
  backend: string;
  /** What was requested. */
  requested: BackendChoice;
  /** The npm module that provided it, when one was loaded. */
  module?: string;
  /** Why a faster backend was not used (printed once, as warnings). */
  notes: string[];
  /** The WebGPU adapter: the one in use on `webgpu`, or the software one `auto` passed over. */
  adapter?: AdapterDescription;
}

/** Imports a module by name; replaced in tests to simulate installed or absent modules. */
export type ModuleImporter = (name: string) => Promise<unknown>;

/** How selectBackend imports modules by name unless given an importer (see setModuleImporter). */
let importModule: ModuleImporter = (name) => import(/* @vite-ignore */ name);

/**
 * Replaces how `selectBackend` imports the optional modules by name: a bundle that includes them
 * (scripts/gpu-bundle.sh) passes an importer with literal specifiers, so it loads its own copies.
 */
export function setModuleImporter(importer: ModuleImporter): void {
  importModule = importer;
}

/** Native TensorFlow bindings, in order of preference (optional peer dependencies). */
export const NATIVE_MODULES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/** The ONNX Runtime kernels for the cpu backend (optional peer dependency; @supermask/cli brings it). */
export const FAST_CPU_MODULE = '@supermask/kernels-ort';

/** What core uses of @supermask/kernels-ort. */
interface FastCpuModule {
  registerOrtBackend(): { backendName: string };
}

function isModuleMissing(error: unknown, name: string): boolean {
  const e = error as { code?: string; message?: string };
  if (typeof e?.message !== 'string' || !e.message.includes(name)) return false;
  // Node's resolver sets a code; vite's (under vitest) only says it could not resolve the name.
  return e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND' || e.message.startsWith(`Could not resolve "${name}"`);
}

/** Loads the ORT kernels and switches to their backend; the reason it could not, otherwise. */
async function tryFastCpu(importer: ModuleImporter): Promise<{ ok: true; backend: string } | { ok: false; reason: string }> {
  let mod: FastCpuModule;
  try {
    mod = (await importer(FAST_CPU_MODULE)) as FastCpuModule;
  } catch (error) {
    return { ok: false, reason: isModuleMissing(error, FAST_CPU_MODULE) ? `${FAST_CPU_MODULE} is not installed` : `${FAST_CPU_MODULE} failed to load: ${firstLine(error)}` };
  }
  try {
    if (typeof mod?.registerOrtBackend !== 'function') throw new Error('it has no registerOrtBackend()');
    const { backendName } = mod.registerOrtBackend();
    if (!(await tf.setBackend(backendName))) throw new Error(`backend ${backendName} failed to initialise`);
    await tf.ready();
    return { ok: true, backend: backendName };
  } catch (error) {
    return { ok: false, reason: `ONNX Runtime kernels unavailable (${firstLine(error)})` };
  }
}

/** The WebGPU backend when an adapter is there (any adapter for `webgpu`, hardware only for `auto`). */
async function tryWebGpu(
  requested: BackendChoice,
  importer: ModuleImporter,
  notes: string[],
): Promise<{ selection?: BackendSelection; adapter?: AdapterDescription }> {
  const probe = await probeWebGpu(importer, isModuleMissing);
  if (!probe.ok) {
    if (requested === 'webgpu') {
      const remedy = probe.why === 'no-adapter' ? '' : `Install the optional dependencies (npm install ${DAWN_MODULE} ${WEBGPU_BACKEND_MODULE}) or use`;
      throw new Error(`backend "webgpu": ${probe.reason}. ${remedy || 'Use'} --backend cpu${remedy ? '' : ' on this machine'}.`);
    }
    if (probe.why === 'failed') notes.push(`WebGPU not used: ${probe.reason}`);
    return {};
  }
  // A software adapter runs the GPU path on the CPU, slower than the cpu backends: only on request.
  if (probe.adapter.software && requested !== 'webgpu') return { adapter: probe.adapter };
  try {
    await activateWebGpu(importer);
  } catch (error) {
    const reason = isModuleMissing(error, WEBGPU_BACKEND_MODULE) ? `${WEBGPU_BACKEND_MODULE} is not installed` : firstLine(error);
    if (requested === 'webgpu') throw new Error(`backend "webgpu" on ${adapterLabel(probe.adapter)}: ${reason}`);
    notes.push(`WebGPU adapter ${adapterLabel(probe.adapter)} not used: ${reason}`);
    return { adapter: probe.adapter };
  }
  return { selection: { backend: tf.getBackend(), requested, module: WEBGPU_BACKEND_MODULE, notes, adapter: probe.adapter } };
}

/**
 * Selects and activates the tfjs backend.
 * - `webgpu`: the tfjs WebGPU backend on whatever adapter Dawn offers; an error without one.
 * - `auto`: `webgpu` when the adapter is a hardware GPU, else `@tensorflow/tfjs-node-gpu` if installed, else `@tensorflow/tfjs-node`, else the cpu
 *   backend with ONNX Runtime kernels (`cpu-ort`), else plain `cpu` with a one-line warning.
 * - `tensorflow`: the same native modules, but an error when neither loads.
 * - `cpu`: `cpu-ort` when @supermask/kernels-ort and onnxruntime-node load, else plain `cpu` with a warning.
 * - `cpu-plain`: the pure-JS cpu backend of @tensorflow/tfjs; nothing is imported.
 */
export async function selectBackend(requested: BackendChoice, importer: ModuleImporter = importModule): Promise<BackendSelection> {
  const notes: string[] = [];
  let nativeMissing = false;
  let adapter: AdapterDescription | undefined;
  if (requested === 'auto' || requested === 'webgpu') {
    const gpu = await tryWebGpu(requested, importer, notes);
    if (gpu.selection) return gpu.selection;
    adapter = gpu.adapter;
  }
  if (requested === 'auto' || requested === 'tensorflow') {
    for (const name of NATIVE_MODULES) {
      try {
        await importer(name);
      } catch (error) {
        if (isModuleMissing(error, name)) continue;
        notes.push(`${name} is installed but failed to load: ${firstLine(error)}`);
        continue;
      }
      if (tf.findBackend('tensorflow') && (await tf.setBackend('tensorflow'))) {
        await tf.ready();
        return { backend: tf.getBackend(), requested, module: name, notes, ...(adapter ? { adapter } : {}) };
      }
      notes.push(`${name} loaded but registered no "tensorflow" backend with this copy of @tensorflow/tfjs (versions must match)`);
    }
    if (requested === 'tensorflow') {
      throw new Error(
        `backend "tensorflow" needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node: ${notes.join('; ') || 'neither is installed'}. ` +
          `Install one (npm install @tensorflow/tfjs-node) or use --backend cpu.`,
      );
    }
    nativeMissing = true;
  }
  if (requested === 'auto' || requested === 'cpu') {
    const fast = await tryFastCpu(importer);
    if (fast.ok) return { backend: fast.backend, requested, module: FAST_CPU_MODULE, notes, ...(adapter ? { adapter } : {}) };
    notes.push(
      nativeMissing
        ? `neither native TensorFlow (@tensorflow/tfjs-node) nor fast cpu kernels are available (${fast.reason}): using the plain cpu backend (slow)`
        : `${fast.reason}: using the plain cpu backend (slow)`,
    );
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('the tfjs cpu backend failed to initialise');
  await tf.ready();
  // The cpu backend prints a banner recommending tfjs-node on its first use; the selection above
  // already says which backend runs and why, so the banner is switched off.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { backend: tf.getBackend(), requested, notes, ...(adapter ? { adapter } : {}) };
}
