import * as tf from '@tensorflow/tfjs-core';
import type { ModuleImporter } from './backend.js';
import { firstLineOf as firstLine } from './errors.js';

/**
 * The WebGPU path: Dawn's Node binding (npm `webgpu`) provides `navigator.gpu`, and
 * `@tensorflow/tfjs-backend-webgpu` runs tfjs on it. Both are optional dependencies of core,
 * imported lazily here and nowhere else.
 */

/** Dawn's Node binding (optional dependency). */
export const DAWN_MODULE = 'webgpu';
/** The tfjs WebGPU backend (optional dependency, same version as @tensorflow/tfjs). */
export const WEBGPU_BACKEND_MODULE = '@tensorflow/tfjs-backend-webgpu';

/** The WebGPU adapter a run used or saw: who made it and the limits that bound layer sizes. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (lavapipe, SwiftShader, WARP): `auto` does not pick it. */
  software: boolean;
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupsPerDimension: number;
  };
}

/** The parts of the WebGPU API read here (the DOM types are not part of this build). */
interface GpuAdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
  limits: Record<string, number>;
}
interface GpuLike {
  requestAdapter(options?: Record<string, unknown>): Promise<GpuAdapterLike | null>;
}
interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|software|warp|microsoft basic render/i;

/** Reads an adapter's identity and limits into plain data (GPUAdapterInfo fields are getters). */
export function describeAdapter(adapter: GpuAdapterLike): AdapterDescription {
  const info = adapter.info ?? {};
  const text = (key: string) => (typeof info[key] === 'string' ? (info[key] as string) : '');
  const description: AdapterDescription = {
    vendor: text('vendor'),
    architecture: text('architecture'),
    device: text('device'),
    description: text('description'),
    software: false,
    limits: {
      maxBufferSize: adapter.limits.maxBufferSize ?? 0,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize ?? 0,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize ?? 0,
      maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup ?? 0,
      maxComputeWorkgroupsPerDimension: adapter.limits.maxComputeWorkgroupsPerDimension ?? 0,
    },
  };
  description.software =
    info.isFallbackAdapter === true ||
    adapter.isFallbackAdapter === true ||
    description.architecture === 'software' ||
    SOFTWARE_NAMES.test(`${description.device} ${description.description}`);
  return description;
}

/** One line naming the adapter, for logs and benchmark tables. */
export function adapterLabel(a: AdapterDescription): string {
  const name = a.description || a.device || 'unknown device';
  const kind = [a.architecture || '?', ...(a.software && a.architecture !== 'software' ? ['software'] : [])];
  return `${name} (vendor ${a.vendor || '?'}, ${kind.join(', ')})`;
}

/** One Dawn instance per importer (the real one, or a test's), made on first use. */
const instances = new WeakMap<ModuleImporter, GpuLike>();

/** Installs Dawn's `navigator.gpu` and the WebGPU globals (before the tfjs backend loads). */
async function dawnGpu(importer: ModuleImporter): Promise<GpuLike> {
  const known = instances.get(importer);
  if (known) return known;
  const dawn = (await importer(DAWN_MODULE)) as DawnModule;
  if (typeof dawn?.create !== 'function' || typeof dawn.globals !== 'object') throw new Error(`${DAWN_MODULE} has no create()/globals`);
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  Object.assign(globalThis, dawn.globals);
  // Node 21+ has a read-only global navigator object; Node 20 has none.
  if (g.navigator === undefined) Object.defineProperty(globalThis, 'navigator', { value: {}, writable: true, configurable: true });
  const gpu = dawn.create([]);
  Object.defineProperty(g.navigator!, 'gpu', { value: gpu, writable: true, configurable: true });
  instances.set(importer, gpu);
  return gpu;
}

/**
 * What `probeWebGpu` found: an adapter, or why not. `missing`: the `webgpu` package is not
 * installed; `no-adapter`: no GPU driver Dawn accepts (the usual case on a machine without a
 * GPU; neither deserves a warning from `auto`); `failed`: it is installed but broken.
 */
export type WebGpuProbe = { ok: true; adapter: AdapterDescription } | { ok: false; why: 'missing' | 'no-adapter' | 'failed'; reason: string };

/** Loads Dawn and asks it for an adapter. */
export async function probeWebGpu(importer: ModuleImporter, isMissing: (error: unknown, name: string) => boolean): Promise<WebGpuProbe> {
  let navigatorGpu: GpuLike;
  try {
    navigatorGpu = await dawnGpu(importer);
  } catch (error) {
    if (isMissing(error, DAWN_MODULE)) return { ok: false, why: 'missing', reason: `${DAWN_MODULE} is not installed` };
    return { ok: false, why: 'failed', reason: `${DAWN_MODULE} failed to load: ${firstLine(error)}` };
  }
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await navigatorGpu.requestAdapter();
  } catch (error) {
    return { ok: false, why: 'no-adapter', reason: `no WebGPU adapter (${firstLine(error)})` };
  }
  if (!adapter) {
    return {
      ok: false,
      why: 'no-adapter',
      reason: 'no WebGPU adapter: Dawn found no Vulkan/Metal/D3D12 driver it accepts (set VK_ICD_FILENAMES to the driver\'s ICD json)',
    };
  }
  return { ok: true, adapter: describeAdapter(adapter) };
}

/** Loads the tfjs WebGPU backend (after `probeWebGpu` installed `navigator.gpu`) and switches to it. */
export async function activateWebGpu(importer: ModuleImporter): Promise<void> {
  await importer(WEBGPU_BACKEND_MODULE);
  if (!tf.findBackendFactory('webgpu')) throw new Error(`${WEBGPU_BACKEND_MODULE} registered no "webgpu" backend with this copy of @tensorflow/tfjs (versions must match)`);
  if (!(await tf.setBackend('webgpu'))) throw new Error('the tfjs webgpu backend failed to initialise');
  await tf.ready();
}

/** True when tensors live on a GPU and must be read with `await data()` (no `dataSync`). */
export function onDevice(): boolean {
  return tf.getBackend() === 'webgpu';
}
