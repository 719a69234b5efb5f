import * as tf from '@tensorflow/tfjs-core';
import { fixedContext, phaseOptionsSchema, topKAbsMask, type PhaseKind, type PhaseOptions, type PhaseSession, type PhaseSetup, type PhaseSpec, type Strategy } from '@supermask/core';

export interface PruneOptions {
  /** Fraction of each layer's weights that a task newly keeps (its capacity per task). */
  kept_fraction: number;
}

export const PRUNE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    kept_fraction: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 1,
      default: 0.1,
      description: "Capacity per task: fraction of each layer's weights a task keeps (the largest-magnitude free ones; all free ones if fewer are left)",
    },
  },
};

/** Weights a task keeps in a layer of `size` weights with `free` still free: round(fraction * size), at most `free`. */
export function keptWeights(size: number, free: number, fraction: number): number {
  return Math.min(free, Math.round(fraction * size));
}

/**
 * PackNet's pruning of one layer: `used` marks the weights earlier tasks own (1), `weights` are the
 * layer's values after training. Of the free weights, the `kept` ones of largest |w| (ties by index)
 * join the task's mask; the other free weights are set to 0 (released for later tasks). Returns the
 * task's mask (the earlier tasks' weights and the kept ones) and the new weight values.
 */
export function pruneLayer(weights: Float32Array, used: Float32Array, kept: number): { mask: Float32Array; weights: Float32Array } {
  const freeIndex: number[] = [];
  for (let i = 0; i < used.length; i++) if (used[i] === 0) freeIndex.push(i);
  const freeValues = Float32Array.from(freeIndex, (i) => weights[i]!);
  const keep = topKAbsMask(freeValues, kept);
  const mask = Float32Array.from(used);
  const pruned = Float32Array.from(weights);
  freeIndex.forEach((i, j) => {
    if (keep[j] !== 0) mask[i] = 1;
    else pruned[i] = 0;
  });
  return { mask, weights: pruned };
}

/**
 * Phase kind `prune` (PackNet, Mallya & Lazebnik, 2018): trains nothing; at its end, in every layer,
 * keeps the largest-magnitude `kept_fraction` of the layer's weights among those no earlier task
 * uses, sets the other free weights to 0, and sets the task's mask to the earlier tasks' weights plus
 * the kept ones (so masks are nested: M_t ⊇ M_{t-1}). Run it with `epochs: 0` between a `weight`
 * phase that trains the free weights and one that retrains the kept ones.
 */
export const prunePhase: PhaseKind = {
  id: 'prune',
  begin({ task, backbone, learned, spec, strategy }: PhaseSetup): PhaseSession {
    const { kept_fraction } = spec.options as unknown as PruneOptions;
    const t = task.index;
    if (backbone.layers.some((l) => l.masks.hasScores(t))) {
      throw new Error(`phase kind "prune" sets masks by magnitude: the mask scorer must be "none" (strategy "${strategy}" gave task ${t + 1} scores)`);
    }
    return {
      variables: [],
      context: () => fixedContext(t),
      end: async () => {
        for (const layer of backbone.layers) {
          const used = new Float32Array(layer.size);
          for (let j = 0; j < learned; j++) layer.masks.values(j).forEach((m, i) => void (m !== 0 && (used[i] = 1)));
          let free = 0;
          for (let i = 0; i < used.length; i++) if (used[i] === 0) free++;
          const { mask, weights } = pruneLayer((await layer.weight.data()) as Float32Array, used, keptWeights(layer.size, free, kept_fraction));
          tf.tidy(() => layer.weight.assign(tf.tensor(weights, layer.weight.shape)));
          layer.masks.setMask(t, mask);
        }
      },
    };
  },
};

export interface PackNetOptions {
  kept_fraction: number;
  train_phase: PhaseOptions;
  retrain_phase: PhaseOptions;
}

/** The paper trains, prunes, then retrains for fewer epochs (Adam here, as the other strategies). */
export const PACKNET_TRAIN_DEFAULTS: PhaseOptions = { epochs: 2, optimizer: 'adam', lr: 0.001, momentum: 0.9, schedule: 'constant', batch_size: 64 };
export const PACKNET_RETRAIN_DEFAULTS: PhaseOptions = { ...PACKNET_TRAIN_DEFAULTS, epochs: 1 };

export const PACKNET_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    kept_fraction: PRUNE_SCHEMA.properties.kept_fraction,
    train_phase: phaseOptionsSchema(PACKNET_TRAIN_DEFAULTS, 'Training of every free weight (dense mask) before pruning'),
    retrain_phase: phaseOptionsSchema(PACKNET_RETRAIN_DEFAULTS, "Retraining of the kept weights (the task's mask fixed) after pruning"),
  },
};

/** PackNet: per task a `weight` phase (free weights, dense mask), `prune`, and a `weight` phase on the kept weights. */
export class PackNet implements Strategy {
  readonly id = 'packnet';
  constructor(readonly options: PackNetOptions) {}

  phases(): PhaseSpec[] {
    const { train_phase, retrain_phase, kept_fraction } = this.options;
    const phases: PhaseSpec[] = [
      { name: 'weight', ...train_phase },
      { name: prunePhase.id, ...train_phase, epochs: 0, options: { kept_fraction } },
    ];
    if (retrain_phase.epochs > 0) phases.push({ name: 'weight', ...retrain_phase });
    return phases;
  }
}
