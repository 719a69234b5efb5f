import * as tf from '@tensorflow/tfjs-core';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectTensor } from './checkpoint.js';
import { readCheckpoint } from './checkpoint-file.js';
import type { Backbone, BackboneSpec } from './contracts.js';
import { effectiveWeight, plainContext } from './contexts.js';
import { stateNames, taskStateTensors } from './state.js';
import { DataError } from './errors.js';
import { writeJsonAtomic } from './files.js';
import { unpackBits } from './bitpack.js';
import type { Registry } from './registry.js';
import { Rng } from './rng.js';
import { asFloat32, storedTensor, type StoredTensor } from './safetensors.js';
import { readSafetensors, writeSafetensors } from './safetensors-file.js';
import { TOKENS } from './tokens.js';
import { classLogits } from './evaluation.js';
import { outputWidth } from './config.js';

/** The native model's manifest (not model.json, which is TensorFlow.js's name for its own format). */
export const MODEL_MANIFEST = 'supermask-model.json';
/** The manifest's name in exports written before it was renamed; still loaded. */
export const LEGACY_MODEL_MANIFEST = 'model.json';
export const MODEL_TENSORS = 'model.safetensors';
export const MODEL_FORMAT = 'supermask-model';

/** supermask-model.json of an exported task model. */
export interface ModelManifest {
  format: typeof MODEL_FORMAT;
  format_version: 1;
  /** The backbone to rebuild (registered id and options). */
  backbone: { id: string; options: Record<string, unknown> };
  input_shape: number[];
  num_classes: number;
  /** Width of the output layer (num_classes + superfluous outputs); absent in older exports: num_classes. */
  num_outputs?: number;
  /** The task exported (0-based) and what it classifies. */
  task: number;
  task_name: string;
  classes: number[];
  /** Architecture description (Backbone.describe()). */
  architecture: Record<string, unknown>;
  source_run: string;
  created_at: string;
}

/** Builds a backbone from its registered id and options, outside a run. */
export function buildBackbone(registry: Registry, ref: { id: string; options: Record<string, unknown> }, spec: BackboneSpec, seed = 0, parent: DependencyContainer = rootContainer): Backbone {
  const c = parent.createChildContainer();
  c.register(TOKENS.Registry, { useValue: registry });
  c.register(TOKENS.Rng, { useValue: new Rng(seed) });
  c.register(TOKENS.BackboneSpec, { useValue: spec });
  const options = registry.resolveOptions('backbone', { id: ref.id, options: ref.options }, 'backbone');
  return registry.get('backbone', ref.id).create(options, c) as Backbone;
}

/**
 * Writes a standalone model of one task of a finished (or checkpointed) run: the effective weights
 * W * M_task of every masked layer, the task's per-task state (batch-norm statistics), and an
 * architecture description. Returns the files written.
 */
export async function exportTaskModel(runDir: string, task: number, outDir: string, registry: Registry): Promise<{ manifest: string; tensors: string }> {
  const ckpt = readCheckpoint(runDir);
  const m = ckpt.manifest;
  if (!Number.isInteger(task) || task < 0 || task >= m.completed_tasks) {
    throw new DataError(`${runDir}: task ${task + 1} cannot be exported: the checkpoint holds tasks 1..${m.completed_tasks}`, ckpt.file);
  }
  const config = m.config as unknown as { backbone: { id: string; options: Record<string, unknown> }; seed: number; outputs?: { superfluous?: number } };
  const spec: BackboneSpec = { inputShape: m.stream.input_shape, numClasses: m.stream.num_classes, numOutputs: outputWidth(m.stream.num_classes, config) };
  const backbone = buildBackbone(registry, config.backbone, spec, config.seed);
  try {
    const tensors = new Map<string, StoredTensor>();
    for (const l of backbone.layers) {
      const w = asFloat32(expectTensor(ckpt, stateNames.weight(l.name), 'F32', l.shape));
      const mask = unpackBits(expectTensor(ckpt, stateNames.mask(l.name, task), 'U8', [Math.ceil(l.size / 8)]).bytes, l.size);
      // The same float32 product the runner computes (contexts.ts: W * M).
      const effective = tf.tidy(() => effectiveWeight(tf.tensor(w, l.shape), tf.tensor(mask, l.shape)));
      const values = Float32Array.from((await effective.data()) as Float32Array);
      effective.dispose();
      tensors.set(stateNames.weight(l.name), storedTensor('F32', l.shape, values));
    }
    for (const [name, x] of Object.entries(taskStateTensors(ckpt.tensors, stateNames.backbonePrefix(task)))) tensors.set(`state/${name}`, x);
    const record = m.tasks[task] as { name?: string; classes?: number[] };
    const manifest: ModelManifest = {
      format: MODEL_FORMAT,
      format_version: 1,
      backbone: config.backbone,
      input_shape: m.stream.input_shape,
      num_classes: m.stream.num_classes,
      num_outputs: spec.numOutputs,
      task,
      task_name: record?.name ?? `task ${task + 1}`,
      classes: record?.classes ?? [],
      architecture: backbone.describe(),
      source_run: runDir,
      created_at: new Date().toISOString(),
    };
    mkdirSync(outDir, { recursive: true });
    const tensorsFile = join(outDir, MODEL_TENSORS);
    const manifestFile = join(outDir, MODEL_MANIFEST);
    writeSafetensors(tensorsFile, tensors, { format: MODEL_FORMAT });
    writeJsonAtomic(manifestFile, manifest);
    return { manifest: manifestFile, tensors: tensorsFile };
  } finally {
    backbone.dispose();
  }
}

/** An exported task model loaded for inference: no scores, masks or training state. */
export class ExportedModel {
  private constructor(
    readonly manifest: ModelManifest,
    readonly backbone: Backbone,
  ) {}

  /** Loads supermask-model.json (older exports: model.json) + model.safetensors from `dir`; the backbone's package must be registered. */
  static load(dir: string, registry: Registry): ExportedModel {
    const manifestFile = join(dir, existsSync(join(dir, MODEL_MANIFEST)) || !existsSync(join(dir, LEGACY_MODEL_MANIFEST)) ? MODEL_MANIFEST : LEGACY_MODEL_MANIFEST);
    let manifest: ModelManifest;
    try {
      manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as ModelManifest;
    } catch (error) {
      throw new DataError(`${manifestFile}: cannot read the model manifest (${(error as Error).message})`, manifestFile);
    }
    if (manifest.format !== MODEL_FORMAT) throw new DataError(`${manifestFile}: not a supermask model (format ${JSON.stringify(manifest.format)})`, manifestFile);
    const file = join(dir, MODEL_TENSORS);
    const { tensors } = readSafetensors(file);
    const backbone = buildBackbone(registry, manifest.backbone, { inputShape: manifest.input_shape, numClasses: manifest.num_classes, numOutputs: manifest.num_outputs ?? manifest.num_classes });
    try {
      for (const l of backbone.layers) {
        const t = tensors.get(`layer/${l.name}/weight`);
        if (!t || t.dtype !== 'F32' || t.shape.join(',') !== l.shape.join(',')) {
          throw new DataError(`${file}: tensor "layer/${l.name}/weight" must be F32 [${l.shape.join(', ')}]${t ? `, got ${t.dtype} [${t.shape.join(', ')}]` : ', it is missing'}`, file);
        }
        const values = asFloat32(t);
        tf.tidy(() => l.weight.assign(tf.tensor(values, l.shape)));
      }
      backbone.addTask(0);
      if (backbone.loadTaskState) {
        backbone.loadTaskState(0, taskStateTensors(tensors, 'state/'));
      }
      backbone.finishTask?.(0);
    } catch (error) {
      backbone.dispose();
      throw error;
    }
    return new ExportedModel(manifest, backbone);
  }

  /** Logits of the classes for a batch (shape [batch, ...input_shape]); the caller disposes the result. */
  predict(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => classLogits(this.backbone.forward(x, plainContext()), this.manifest.num_classes));
  }

  dispose(): void {
    this.backbone.dispose();
  }
}
