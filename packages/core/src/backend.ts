import * as tf from '@tensorflow/tfjs';

/** Backends a run can ask for. `auto` picks the fastest one available. */
export const BACKEND_CHOICES = ['auto', 'tensorflow', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface BackendSelection {
  /** The tfjs backend in use (tf.getBackend()). */
  backend: string;
  /** What was requested. */
  requested: BackendChoice;
  /** The npm module that provided it, when one was loaded. */
  module?: string;
  /** Why a faster backend was not used (printed once). */
  notes: string[];
}

/** Imports a module by name; replaced in tests to simulate installed or absent modules. */
export type ModuleImporter = (name: string) => Promise<unknown>;

const defaultImporter: ModuleImporter = (name) => import(name);

/** Native TensorFlow bindings, in order of preference (optional peer dependencies). */
export const NATIVE_MODULES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

function isModuleMissing(error: unknown, name: string): boolean {
  const e = error as { code?: string; message?: string };
  return (
    (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') &&
    typeof e.message === 'string' &&
    e.message.includes(name)
  );
}

/**
 * Selects and activates the tfjs backend.
 * - `auto`: `@tensorflow/tfjs-node-gpu` if installed, else `@tensorflow/tfjs-node`, else `cpu`.
 * - `tensorflow`: the same native modules, but an error when neither loads.
 * - `cpu`: the pure-JS backend of @tensorflow/tfjs.
 */
export async function selectBackend(requested: BackendChoice, importer: ModuleImporter = defaultImporter): Promise<BackendSelection> {
  const notes: string[] = [];
  if (requested === 'auto' || requested === 'tensorflow') {
    for (const name of NATIVE_MODULES) {
      try {
        await importer(name);
      } catch (error) {
        if (isModuleMissing(error, name)) continue;
        notes.push(`${name} is installed but failed to load: ${(error as Error).message.split('\n')[0]}`);
        continue;
      }
      if (tf.findBackend('tensorflow') && (await tf.setBackend('tensorflow'))) {
        await tf.ready();
        return { backend: tf.getBackend(), requested, module: name, notes };
      }
      notes.push(`${name} loaded but registered no "tensorflow" backend with this copy of @tensorflow/tfjs (versions must match)`);
    }
    if (requested === 'tensorflow') {
      throw new Error(
        `backend "tensorflow" needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node: ${notes.join('; ') || 'neither is installed'}. ` +
          `Install one (npm install @tensorflow/tfjs-node) or use --backend cpu.`,
      );
    }
    notes.push('native TensorFlow (@tensorflow/tfjs-node[-gpu]) is not installed: using the cpu backend');
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('the tfjs cpu backend failed to initialise');
  await tf.ready();
  // The cpu backend prints a banner recommending tfjs-node on its first use; the selection above
  // already says which backend runs and why, so the banner is switched off.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { backend: tf.getBackend(), requested, notes };
}
