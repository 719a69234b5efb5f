import * as tf from '@tensorflow/tfjs-core';
import type { BackendSelection } from '@supermask/core/browser';
import type { PageBackend } from './protocol.js';

/**
 * Activates a tfjs backend in the browser: `auto` tries webgpu, then webgl, then cpu; a named one
 * is used or the run fails with the reason. webgpu is loaded on demand (its own chunk). The
 * training loop reads each step's loss synchronously (dataSync), which tfjs's webgpu backend does
 * through an OffscreenCanvas copy (slow; tfjs warns once): a backend whose synchronous read fails
 * the probe below is skipped with the reason.
 */
export async function selectPageBackend(requested: PageBackend): Promise<BackendSelection> {
  const order: Exclude<PageBackend, 'auto'>[] = requested === 'auto' ? ['webgpu', 'webgl', 'cpu'] : [requested];
  const notes: string[] = [];
  for (const name of order) {
    const why = await tryBackend(name);
    if (!why) return { backend: tf.getBackend(), requested: name === 'cpu' ? 'cpu-plain' : 'auto', notes };
    notes.push(`${name}: ${why}`);
  }
  throw new Error(`no tfjs backend could be started (${notes.join('; ')})`);
}

async function tryBackend(name: Exclude<PageBackend, 'auto'>): Promise<string | undefined> {
  try {
    if (name === 'webgpu') {
      if (!(globalThis.navigator as { gpu?: unknown } | undefined)?.gpu) return 'this browser has no WebGPU (navigator.gpu)';
      await import('@tensorflow/tfjs-backend-webgpu');
    }
    if (!(await tf.setBackend(name))) return 'failed to initialise';
    await tf.ready();
    // The training loop reads each step's loss synchronously.
    tf.tidy(() => tf.scalar(1).add(1).dataSync());
    if (name === 'cpu') (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
    return undefined;
  } catch (error) {
    return String((error as Error)?.message ?? error).split('\n')[0];
  }
}
