import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { NATIVE_MODULES, selectBackend, type ModuleImporter } from '@supermask/core';

function missing(name: string): Error {
  return Object.assign(new Error(`Cannot find package '${name}' imported from /x.js`), { code: 'ERR_MODULE_NOT_FOUND' });
}

describe('backend selection', () => {
  it('auto falls back to cpu when the native modules are really absent (this machine)', async () => {
    for (const name of NATIVE_MODULES) {
      await expect(import(name)).rejects.toThrow();
    }
    const selection = await selectBackend('auto');
    expect(selection.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(selection.notes.join(' ')).toMatch(/not installed/);
  });

  it('auto tries tfjs-node-gpu first, then tfjs-node', async () => {
    const tried: string[] = [];
    const importer: ModuleImporter = async (name) => {
      tried.push(name);
      throw missing(name);
    };
    const selection = await selectBackend('auto', importer);
    expect(tried).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    expect(selection.backend).toBe('cpu');
  });

  it('reports a native module that is installed but broken, and still runs on cpu', async () => {
    const importer: ModuleImporter = async (name) => {
      if (name === '@tensorflow/tfjs-node') throw new Error('libtensorflow.so.2: cannot open shared object file');
      throw missing(name);
    };
    const selection = await selectBackend('auto', importer);
    expect(selection.backend).toBe('cpu');
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

  it('--backend cpu never imports the native modules', async () => {
    const importer: ModuleImporter = async () => {
      throw new Error('must not be called');
    };
    expect((await selectBackend('cpu', importer)).backend).toBe('cpu');
  });
});
