import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { assertCheckpointManifest, CHECKPOINT_FORMAT, CHECKPOINT_MANIFEST, CHECKPOINT_TENSORS_FILE, type CheckpointManifest, type LoadedCheckpoint } from './checkpoint.js';
import { DataError } from './errors.js';
import { writeJsonAtomic } from './files.js';
import type { StoredTensor } from './safetensors.js';
import { readSafetensors, writeSafetensors } from './safetensors-file.js';

/** Checkpoints on disk (Node only); the format itself is in checkpoint.ts. */

/** Reads and validates a run directory's checkpoint. Problems are DataErrors naming the file. */
export function readCheckpoint(dir: string): LoadedCheckpoint {
  const manifestFile = join(dir, CHECKPOINT_MANIFEST);
  if (!existsSync(manifestFile)) {
    throw new DataError(`${dir} holds no checkpoint: ${CHECKPOINT_MANIFEST} is missing (was the run started with an --out directory, and did it finish a task?)`, manifestFile);
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
  } catch (error) {
    throw new DataError(`${manifestFile}: not valid JSON (${(error as Error).message})`, manifestFile);
  }
  assertCheckpointManifest(manifest, manifestFile);
  const file = join(dir, manifest.tensors_file);
  const { tensors } = readSafetensors(file);
  for (const entry of manifest.tensors) {
    const t = tensors.get(entry.name);
    if (!t) throw new DataError(`${file}: tensor "${entry.name}" listed in ${CHECKPOINT_MANIFEST} is missing`, file);
    if (t.dtype !== entry.dtype || t.shape.join(',') !== entry.shape.join(',')) {
      throw new DataError(`${file}: tensor "${entry.name}" is ${t.dtype} [${t.shape.join(', ')}], the manifest says ${entry.dtype} [${entry.shape.join(', ')}]`, file);
    }
  }
  if (tensors.size !== manifest.tensors.length) {
    throw new DataError(`${file}: holds ${tensors.size} tensors, the manifest lists ${manifest.tensors.length}`, file);
  }
  return { dir, manifest, file, tensors };
}

/**
 * Writes tensors then the manifest (each atomically), then removes tensor files the manifest no
 * longer names. Returns the size in bytes of the tensors file.
 */
export function writeCheckpoint(dir: string, manifest: Omit<CheckpointManifest, 'tensors' | 'tensors_file'>, tensors: Map<string, StoredTensor>): { file: string; bytes: number } {
  const tensorsFile = tensorsFileName(dir, manifest);
  const bytes = writeSafetensors(join(dir, tensorsFile), tensors, { format: CHECKPOINT_FORMAT, completed_tasks: String(manifest.completed_tasks) });
  const full: CheckpointManifest = {
    ...manifest,
    tensors_file: tensorsFile,
    tensors: [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })),
  };
  writeJsonAtomic(join(dir, CHECKPOINT_MANIFEST), full);
  for (const f of readdirSync(dir)) {
    if (CHECKPOINT_TENSORS_FILE.test(f) && f !== tensorsFile) rmSync(join(dir, f), { force: true });
  }
  return { file: join(dir, tensorsFile), bytes };
}

/**
 * `checkpoint-task-NNNN.safetensors`, or `checkpoint-task-NNNN-step-SSSSSSSS[-K].safetensors` for
 * a mid-task checkpoint, with K chosen so that the file does not exist yet (a resumed run may
 * checkpoint the very position it resumed from: the manifest's file is never replaced).
 */
function tensorsFileName(dir: string, manifest: Pick<CheckpointManifest, 'completed_tasks' | 'position'>): string {
  const task = String(manifest.completed_tasks).padStart(4, '0');
  if (!manifest.position) return `checkpoint-task-${task}.safetensors`;
  const base = `checkpoint-task-${task}-step-${String(manifest.position.steps).padStart(8, '0')}`;
  let name = `${base}.safetensors`;
  for (let k = 1; existsSync(join(dir, name)); k++) name = `${base}-${k}.safetensors`;
  return name;
}
