import * as tf from '@tensorflow/tfjs-core';
import type { ComponentState, ForwardContext, Backbone, PhaseSpec, WeightOwnershipPolicy } from './contracts.js';
import { trainingContext, weightTrainingContext } from './contexts.js';
import type { Task } from './data.js';
import type { MaskedLayer } from './layers/masked-layer.js';
import type { Rng } from './rng.js';

/** What a phase kind gets to set up one phase of one task. */
export interface PhaseSetup {
  task: Task;
  /** Position of this phase in the task's recipe (0-based). */
  index: number;
  spec: PhaseSpec;
  backbone: Backbone;
  ownership: WeightOwnershipPolicy;
  /** Id of the strategy (named in messages). */
  strategy: string;
  /** Tasks finished before this one (their masks are final): 0..learned-1. */
  learned: number;
  /** `debug.check_protected_weights` of the config. */
  checkProtectedWeights: boolean;
  /** A random stream of this phase (`phase/<task>/<index>`), for the kind's own draws. */
  rng: Rng;
}

/**
 * One running phase, made by a phase kind's `begin`. The runner's loop owns batches, the loss
 * (softmax cross-entropy over every output), the optimiser and the schedule; the session decides
 * the rest. Order per step: `context()` and the forward pass inside one `tf.tidy`, gradients of
 * `variables`, `transformGradients`, the optimiser step, then `afterStep`.
 */
export interface PhaseSession {
  /** Variables the optimiser updates (their `trainable` flag is the session's business). */
  readonly variables: readonly tf.Variable[];
  /** The forward context of a training step (called inside the step's tidy). */
  context(): ForwardContext;
  /** Inside the step's tidy: returns the gradients to apply, by variable name (e.g. times an editable set). */
  transformGradients?(grads: tf.NamedTensorMap): tf.NamedTensorMap;
  /** After each optimiser step (e.g. drop cached masks, check protected weights). */
  afterStep?(step: { epoch: number; batch: number }): void | Promise<void>;
  /** After the last epoch, before `dispose` (e.g. prune and set the task's mask: `layer.masks.setMask`). */
  end?(): void | Promise<void>;
  /** Releases what `begin` made; always called (also when the phase fails or the run is stopped). */
  dispose?(): void;
  /**
   * The session's own state at a batch boundary, for a mid-task checkpoint (e.g. a pruning
   * schedule's progress or draws from `setup.rng`); JSON in `position.session`, tensors as
   * `position/session/<name>`. A resumed run calls `begin` again (with the task's state at the
   * checkpoint) and then `loadState` before its first step. Without it, a session must rebuild
   * everything it needs in `begin`.
   */
  saveState?(): ComponentState | Promise<ComponentState>;
  loadState?(state: ComponentState): void | Promise<void>;
}

/**
 * Kind `phase`: what trains in a phase, through which forward context, how gradients are
 * transformed and what happens after each step and at the end. A strategy's recipe names phase
 * kinds by id (`PhaseSpec.name`); one instance per kind serves the whole run, and its state (if
 * any, `saveState`/`loadState`) is checkpointed under `phase/<id>`.
 */
export interface PhaseKind {
  readonly id: string;
  begin(setup: PhaseSetup): PhaseSession | Promise<PhaseSession>;
  saveState?(): ComponentState;
  loadState?(state: ComponentState): void;
}

/** Built-in `mask`: the task's scores train through the straight-through mask; weights are fixed. */
export const maskPhase: PhaseKind = {
  id: 'mask',
  begin({ task, backbone }) {
    const t = task.index;
    const layers = backbone.layers;
    return {
      variables: layers.map((l) => l.scores(t)),
      context: () => trainingContext(t),
      afterStep: () => {
        for (const l of layers) l.masks.invalidate(t);
      },
    };
  },
};

/**
 * The 0/1 tensor of the weights task `task` may change in each layer (null: none), from the
 * ownership policy and the task's current mask; the caller disposes the tensors.
 */
export function editableSets(layers: readonly MaskedLayer[], ownership: WeightOwnershipPolicy, task: number): (tf.Tensor | null)[] {
  return layers.map((l, i) => {
    const allowed = ownership.editable(i, task, l.masks.values(task));
    return allowed ? tf.keep(tf.tensor(allowed, l.shape)) : null;
  });
}

/** Multiplies each layer's weight gradient by its editable set (inside a tidy). */
export function maskWeightGradients(grads: tf.NamedTensorMap, layers: readonly MaskedLayer[], editable: readonly (tf.Tensor | null)[]): tf.NamedTensorMap {
  layers.forEach((l, i) => {
    const allowed = editable[i];
    if (allowed && grads[l.weight.name]) grads[l.weight.name] = grads[l.weight.name]!.mul(allowed);
  });
  return grads;
}

/**
 * Built-in `weight`: the weights the ownership policy lets the task change train, gradients
 * multiplied by that editable set; the task's mask is fixed. The mask and the editable set are
 * multiplied once per phase into each layer's gradient mask (`weightTrainingContext`), so a step
 * multiplies each weight gradient once instead of twice.
 */
export const weightPhase: PhaseKind = {
  id: 'weight',
  async begin({ task, backbone, ownership, strategy, checkProtectedWeights }) {
    const t = task.index;
    if (!ownership.allowsWeightTraining) {
      throw new Error(`strategy "${strategy}" asked for a weight phase but ownership policy "${ownership.id}" freezes every weight`);
    }
    const layers = backbone.layers;
    // Reads the masks asynchronously (a GPU backend has no synchronous read); editableSets uses them.
    for (const l of layers) await l.masks.readValues(t);
    const editable = editableSets(layers, ownership, t);
    const variables = layers.filter((_, i) => editable[i] !== null).map((l) => l.weight);
    const gradientMasks = new Map<MaskedLayer, tf.Tensor>();
    layers.forEach((l, i) => {
      const allowed = editable[i];
      if (allowed) gradientMasks.set(l, tf.keep(tf.tidy(() => l.masks.tensor(t).mul(allowed))));
    });
    let guard: ProtectedWeightsGuard | undefined;
    try {
      guard = checkProtectedWeights ? await ProtectedWeightsGuard.create(layers, editable, t) : undefined;
    } catch (error) {
      for (const g of gradientMasks.values()) g.dispose();
      throw error;
    } finally {
      // The gradient masks (and the guard's copies) hold what the steps need.
      for (const e of editable) e?.dispose();
    }
    for (const v of variables) v.trainable = true;
    return {
      variables,
      context: () => weightTrainingContext(t, gradientMasks),
      afterStep: guard ? ({ epoch, batch }) => guard.check(epoch, batch) : undefined,
      dispose: () => {
        for (const g of gradientMasks.values()) g.dispose();
        for (const v of variables) v.trainable = false;
      },
    };
  },
};

/**
 * Debug mode (`debug.check_protected_weights`): after every step, checks that each weight outside
 * the editable set is bit-for-bit what it was when the phase started.
 */
export class ProtectedWeightsGuard {
  private constructor(private readonly snapshots: { layer: MaskedLayer; before: Uint32Array; allowed: Float32Array | null }[], private readonly task: number) {}

  /** Snapshots the weights (and the editable sets) now, read with `await data()` as GPU backends need. */
  static async create(layers: readonly MaskedLayer[], editable: readonly (tf.Tensor | null)[], task: number): Promise<ProtectedWeightsGuard> {
    const snapshots = await Promise.all(
      layers.map(async (layer, i) => ({
        layer,
        before: new Uint32Array(Float32Array.from((await layer.weight.data()) as Float32Array).buffer),
        allowed: editable[i] ? Float32Array.from((await editable[i]!.data()) as Float32Array) : null,
      })),
    );
    return new ProtectedWeightsGuard(snapshots, task);
  }

  async check(epoch: number, batch: number): Promise<void> {
    for (const { layer, before, allowed } of this.snapshots) {
      const now = new Uint32Array(Float32Array.from((await layer.weight.data()) as Float32Array).buffer);
      for (let i = 0; i < now.length; i++) {
        if ((allowed === null || allowed[i] === 0) && now[i] !== before[i]) {
          throw new Error(
            `protected weight changed: layer ${layer.name}, index ${i}, task ${this.task + 1}, epoch ${epoch + 1}, batch ${batch + 1} ` +
              `(the ownership policy does not let this task change it)`,
          );
        }
      }
    }
  }
}
