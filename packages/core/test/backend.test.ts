import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { DAWN_MODULE, FAST_CPU_MODULE, NATIVE_MODULES, WEBGPU_BACKEND_MODULE, selectBackend, type ModuleImporter } from '@supermask/core';

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
    expect(tried).toEqual([DAWN_MODULE, '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', FAST_CPU_MODULE]);
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

  describe('webgpu', () => {
    const LIMITS = { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 27, maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupsPerDimension: 65535 };
    const HARDWARE = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', isFallbackAdapter: false };
    const LAVAPIPE = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'llvmpipe: Mesa 25.0.7', isFallbackAdapter: true };

    /** A Dawn module offering one adapter (or none), and a tfjs backend module that registers `webgpu` as a cpu backend. */
    function fakeGpu(info: object | null, tried: string[] = []): ModuleImporter {
      return async (name) => {
        tried.push(name);
        if (name === DAWN_MODULE) return { globals: {}, create: () => ({ requestAdapter: async () => (info ? { info, limits: LIMITS } : null) }) };
        if (name === WEBGPU_BACKEND_MODULE) {
          tf.registerBackend('webgpu', tf.findBackendFactory('cpu')!, 0);
          return {};
        }
        return onlyFastCpu(name);
      };
    }

    async function reset(): Promise<void> {
      await tf.setBackend('cpu');
      if (tf.findBackend('webgpu')) tf.removeBackend('webgpu');
    }

    it('auto uses WebGPU on a hardware adapter and describes the adapter', async () => {
      const tried: string[] = [];
      try {
        const selection = await selectBackend('auto', fakeGpu(HARDWARE, tried));
        expect(selection.backend).toBe('webgpu');
        expect(selection.module).toBe(WEBGPU_BACKEND_MODULE);
        expect(selection.adapter).toMatchObject({ vendor: 'nvidia', description: 'NVIDIA H200', software: false });
        expect(selection.adapter!.limits.maxStorageBufferBindingSize).toBe(2 ** 27);
        expect(tried).toEqual([DAWN_MODULE, WEBGPU_BACKEND_MODULE]);
      } finally {
        await reset();
      }
    });

    it('auto passes over a software adapter (lavapipe) silently and records it; --backend webgpu takes it', async () => {
      const tried: string[] = [];
      const auto = await selectBackend('auto', fakeGpu(LAVAPIPE, tried));
      expect(auto.backend).toBe('cpu-ort');
      expect(auto.notes).toEqual([]);
      expect(auto.adapter).toMatchObject({ software: true, vendor: 'mesa' });
      expect(tried).not.toContain(WEBGPU_BACKEND_MODULE);
      try {
        const asked = await selectBackend('webgpu', fakeGpu(LAVAPIPE));
        expect(asked.backend).toBe('webgpu');
        expect(asked.adapter!.software).toBe(true);
      } finally {
        await reset();
      }
    });

    it('a software adapter is recognised by its name when it does not say it is a fallback', async () => {
      const swiftshader = { vendor: 'google', architecture: '', device: 'SwiftShader Device (Subzero)', description: '' };
      expect((await selectBackend('auto', fakeGpu(swiftshader))).adapter!.software).toBe(true);
    });

    it('auto without an adapter, or without the webgpu package, moves on without a warning', async () => {
      expect((await selectBackend('auto', fakeGpu(null))).notes).toEqual([]);
      expect((await selectBackend('auto', onlyFastCpu)).notes).toEqual([]);
    });

    it('auto warns once when the webgpu package is installed but broken', async () => {
      const importer: ModuleImporter = async (name) => {
        if (name === DAWN_MODULE) throw new Error('/x/dawn.node: version `GLIBC_2.34\' not found\nmore');
        return onlyFastCpu(name);
      };
      const selection = await selectBackend('auto', importer);
      expect(selection.backend).toBe('cpu-ort');
      expect(selection.notes).toEqual([expect.stringMatching(/^WebGPU not used: webgpu failed to load: .*GLIBC_2\.34/)]);
    });

    it('--backend webgpu without an adapter or without the packages is an error that says what to do', async () => {
      await expect(selectBackend('webgpu', fakeGpu(null))).rejects.toThrow(/no WebGPU adapter.*VK_ICD_FILENAMES.*--backend cpu/);
      await expect(selectBackend('webgpu', async (n) => { throw missing(n); })).rejects.toThrow(/webgpu is not installed.*npm install webgpu @tensorflow\/tfjs-backend-webgpu/);
      const noBackend: ModuleImporter = async (name) => {
        if (name === WEBGPU_BACKEND_MODULE) throw missing(name);
        return fakeGpu(HARDWARE)(name);
      };
      await expect(selectBackend('webgpu', noBackend)).rejects.toThrow(/NVIDIA H200.*@tensorflow\/tfjs-backend-webgpu is not installed/);
    });
  });
});
