import * as tf from '@tensorflow/tfjs-core';
import {
  maskWeightGradients,
  phaseOptionsSchema,
  ProtectedWeightsGuard,
  trainingContext,
  type PhaseKind,
  type PhaseOptions,
  type PhaseSession,
  type PhaseSetup,
  type PhaseSpec,
  type Strategy,
} from '@supermask/core';

/**
 * The weights task `task` may change in each layer whatever its mask turns out to be: the
 * ownership policy's editable set for a mask that holds every weight (with ExSSNeT's `exclusive`
 * policy: the weights no earlier task's mask uses). A WSN mask moves at every step, so the free set
 * is asked for once, with the whole layer, and the mask itself limits the gradient (W * M: dL/dW is 0
 * outside M). The caller disposes the tensors.
 */
export function freeWeightSets({ backbone, ownership, task }: Pick<PhaseSetup, 'backbone' | 'ownership' | 'task'>): (tf.Tensor | null)[] {
  return backbone.layers.map((l, i) => {
    const allowed = ownership.editable(i, task.index, new Float32Array(l.size).fill(1));
    return allowed ? tf.keep(tf.tensor(allowed, l.shape)) : null;
  });
}

/**
 * Phase kind `wsn` (Kang et al., ICML 2022): the task's scores train through the straight-through
 * top-k mask and, in the same step and with the same optimiser, the weights of the network train
 * with their gradient multiplied by the free set (weights earlier tasks use are frozen). The
 * forward pass uses W * M_t, so only free weights inside the task's current mask move.
 */
export const wsnPhase: PhaseKind = {
  id: 'wsn',
  async begin(setup: PhaseSetup): Promise<PhaseSession> {
    const { task, backbone, ownership, strategy, checkProtectedWeights } = setup;
    if (!ownership.allowsWeightTraining) {
      throw new Error(`strategy "${strategy}" uses phase kind "wsn", which trains weights, but ownership policy "${ownership.id}" freezes every weight (use "exclusive")`);
    }
    const t = task.index;
    const layers = backbone.layers;
    const free = freeWeightSets(setup);
    const weights = layers.filter((_, i) => free[i] !== null).map((l) => l.weight);
    for (const w of weights) w.trainable = true;
    const guard = checkProtectedWeights ? await ProtectedWeightsGuard.create(layers, free, t) : undefined;
    return {
      variables: [...layers.map((l) => l.scores(t)), ...weights],
      context: () => trainingContext(t),
      transformGradients: (grads) => maskWeightGradients(grads, layers, free),
      afterStep: async ({ epoch, batch }) => {
        for (const l of layers) l.masks.invalidate(t);
        await guard?.check(epoch, batch);
      },
      dispose: () => {
        tf.dispose(free.filter((f): f is tf.Tensor => f !== null));
        for (const w of weights) w.trainable = false;
      },
    };
  },
};

export interface WSNOptions {
  phase: PhaseOptions;
}

/** Defaults of the paper's code: Adam, lr 0.001, a constant schedule. */
export const WSN_PHASE_DEFAULTS: PhaseOptions = {
  epochs: 2,
  optimizer: 'adam',
  lr: 0.001,
  momentum: 0.9,
  schedule: 'constant',
  batch_size: 64,
};

export const WSN_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    phase: phaseOptionsSchema(WSN_PHASE_DEFAULTS, "Training of each task's scores and free weights together (one optimiser)"),
  },
};

/** The phase kind `wsn` takes no options of its own. */
export const WSN_PHASE_SCHEMA = { type: 'object', additionalProperties: false, properties: {} };

/** WSN (Kang et al., 2022): one `wsn` phase per task. */
export class WSN implements Strategy {
  readonly id = 'wsn';
  constructor(readonly options: WSNOptions) {}

  phases(): PhaseSpec[] {
    return [{ name: wsnPhase.id, ...this.options.phase }];
  }
}
