import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { FAST_CPU_MODULE, NATIVE_MODULES, selectBackend, type ModuleImporter } from '@supermask/core';

function missing(name: string): Error {
  return Object.assign(new Error(`Cannot find package '${name}' imported from /x.js`), { code: 'ERR_MODULE_NOT_FOUND' });
}

/** The real importer for @supermask/kernels-ort, `missing` for everything else. */
const onlyFastCpu: ModuleImporter = async (name) => {
  if (name === FAST_CPU_MODULE) return import('@supermask/kernels-ort');
  throw missing(name);
};

describe('backend selection', () => {
  it('auto uses the ONNX Runtime kernels when the native modules are really absent (this machine)', async () => {
    for (const name of NATIVE_MODULES) {
      await expect(import(name)).rejects.toThrow();
    }
    const selection = await selectBackend('auto');
    expect(selection.backend).toBe('cpu-ort');
    expect(selection.module).toBe(FAST_CPU_MODULE);
    expect(tf.getBackend()).toBe('cpu-ort');
    expect(selection.notes).toEqual([]);
  });

  it('auto tries tfjs-node-gpu, then tfjs-node, then the ONNX Runtime kernels', async () => {
    const tried: string[] = [];
    const importer: ModuleImporter = async (name) => {
      tried.push(name);
      return onlyFastCpu(name);
    };
    const selection = await selectBackend('auto', importer);
    expect(tried).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', FAST_CPU_MODULE]);
    expect(selection.backend).toBe('cpu-ort');
  });

  it('auto falls back to plain cpu with a one-line warning when @supermask/kernels-ort is not installed', async () => {
    const selection = await selectBackend('auto', async (name) => {
      throw missing(name);
    });
    expect(selection.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(selection.notes).toHaveLength(1);
    expect(selection.notes[0]).not.toContain('\n');
    expect(selection.notes[0]).toMatch(/@supermask\/kernels-ort is not installed.*plain cpu backend/);
  });

  it('auto falls back to plain cpu with a one-line warning when onnxruntime-node cannot load', async () => {
    const importer: ModuleImporter = async (name) => {
      if (name !== FAST_CPU_MODULE) throw missing(name);
      return {
        registerOrtBackend: () => {
          throw new Error("Cannot find module '../bin/napi-v6/linux/x64/onnxruntime_binding.node'\nRequire stack: ...");
        },
      };
    };
    const selection = await selectBackend('auto', importer);
    expect(selection.backend).toBe('cpu');
    expect(selection.notes).toHaveLength(1);
    expect(selection.notes[0]).toMatch(/ONNX Runtime kernels unavailable \(Cannot find module .*onnxruntime_binding\.node'\).*plain cpu/);
    expect(selection.notes[0]).not.toContain('\n');
  });

  it('reports a native module that is installed but broken, and still runs on the fast cpu path', async () => {
    const importer: ModuleImporter = async (name) => {
      if (name === '@tensorflow/tfjs-node') throw new Error('libtensorflow.so.2: cannot open shared object file');
      return onlyFastCpu(name);
    };
    const selection = await selectBackend('auto', importer);
    expect(selection.backend).toBe('cpu-ort');
    expect(selection.notes[0]).toMatch(/@tensorflow\/tfjs-node is installed but failed to load: libtensorflow/);
  });

  it('uses the tensorflow backend when a native module registers it', async () => {
    const fake = tf.findBackendFactory('cpu')!;
    const importer: ModuleImporter = async (name) => {
      if (name === '@tensorflow/tfjs-node-gpu') throw missing(name);
      tf.registerBackend('tensorflow', fake, 0);
      return {};
    };
    try {
      const selection = await selectBackend('auto', importer);
      expect(selection.backend).toBe('tensorflow');
      expect(selection.module).toBe('@tensorflow/tfjs-node');
    } finally {
      await tf.setBackend('cpu');
      tf.removeBackend('tensorflow');
    }
  });

  it('--backend tensorflow without the modules is an error that says what to install', async () => {
    await expect(selectBackend('tensorflow', async (n) => { throw missing(n); })).rejects.toThrow(/npm install @tensorflow\/tfjs-node/);
  });

  it('--backend cpu uses the ONNX Runtime kernels and never imports the native modules', async () => {
    const tried: string[] = [];
    const selection = await selectBackend('cpu', async (name) => {
      tried.push(name);
      return onlyFastCpu(name);
    });
    expect(tried).toEqual([FAST_CPU_MODULE]);
    expect(selection.backend).toBe('cpu-ort');
  });

  it('--backend cpu without the kernels warns once and runs plain cpu', async () => {
    const selection = await selectBackend('cpu', async (name) => { throw missing(name); });
    expect(selection.backend).toBe('cpu');
    expect(selection.notes).toHaveLength(1);
  });

  it('--backend cpu-plain imports nothing', async () => {
    const importer: ModuleImporter = async () => {
      throw new Error('must not be called');
    };
    const selection = await selectBackend('cpu-plain', importer);
    expect(selection.backend).toBe('cpu');
    expect(selection.notes).toEqual([]);
  });
});
