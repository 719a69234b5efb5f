import type { CheckpointManifest, LoadedCheckpoint } from './checkpoint.js';
import type { StoredTensor } from './safetensors.js';

/**
 * The file side of a run directory (`outDir`, resume): what the built-in observers, checkpoints
 * and Experiment.resume read and write through. Core's Node entry installs the implementation
 * (run-files-node.ts: durable atomic writes, checkpoints on disk); the browser entry has none, so
 * the training loop's module graph holds no Node built-in, and a page runs without `outDir`.
 */
export interface RunFiles {
  /** Appends `text` to `dir/name`, creating the directory and the file when missing. */
  append(dir: string, name: string, text: string): void;
  exists(dir: string, name: string): boolean;
  /** The text of `dir/name`, or undefined when there is no such file. */
  read(dir: string, name: string): string | undefined;
  /** Writes `dir/name` atomically and durably (a reader never sees it half-written). */
  write(dir: string, name: string, data: string | Uint8Array): void;
  readCheckpoint(dir: string): LoadedCheckpoint;
  writeCheckpoint(dir: string, manifest: Omit<CheckpointManifest, 'tensors' | 'tensors_file'>, tensors: Map<string, StoredTensor>): { file: string; bytes: number };
}

let installed: RunFiles | undefined;

/** Installs the run-directory file access (core's Node entry does, once, at load). */
export function installRunFiles(files: RunFiles): void {
  installed = files;
}

/** The installed run-directory file access; an error when none is (a browser given an outDir). */
export function runFiles(): RunFiles {
  if (!installed) throw new Error('a run directory (outDir, resume) needs the Node entry of @supermask/core, which writes files; the browser entry runs without one');
  return installed;
}

/** A fresh run id (a random UUID; Web Crypto, in Node and in browsers). */
export function newRunId(): string {
  const c = globalThis.crypto;
  if (typeof c.randomUUID === 'function') return c.randomUUID();
  // randomUUID needs a secure context in browsers (a page served over http from another host): RFC 4122 v4 by hand.
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
