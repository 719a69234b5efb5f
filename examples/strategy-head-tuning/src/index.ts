// examples/strategy-head-tuning/src/index.ts
import * as tf from '@tensorflow/tfjs-core';
import { fixedContext, phaseOptionsSchema, type PhaseKind, type PhaseOptions, type PhaseSpec, type PluginManifest, type Registry, type Strategy } from '@supermask/core';

/**
 * Phase kind `head-weights`: the task's mask is fixed; of the last layer's weights, those the
 * ownership policy lets the task change train (gradient times that editable set); every other
 * layer stays as it is.
 */
export const headWeightsPhase: PhaseKind = {
  id: 'head-weights',
  begin({ task, backbone, ownership, strategy }) {
    const t = task.index;
    const last = backbone.layers.length - 1;
    const head = backbone.layers[last]!;
    const allowed = ownership.editable(last, t, head.masks.values(t));
    if (!allowed) throw new Error(`strategy "${strategy}": ownership policy "${ownership.id}" lets no weight of ${head.name} change`);
    const editable = tf.keep(tf.tensor(allowed, head.shape));
    head.weight.trainable = true;
    return {
      variables: [head.weight],
      context: () => fixedContext(t, true),
      transformGradients: (grads) => ({ ...grads, [head.weight.name]: grads[head.weight.name]!.mul(editable) }),
      dispose: () => {
        editable.dispose();
        head.weight.trainable = false;
      },
    };
  },
};

export interface HeadTuningOptions {
  mask_phase: PhaseOptions;
  head_phase: PhaseOptions;
}

const DEFAULTS: PhaseOptions = { epochs: 1, optimizer: 'adam', lr: 0.01, momentum: 0.9, schedule: 'constant', batch_size: 64 };

/** Strategy `head-tuning`: per task, core's `mask` phase, then `head-weights`. */
export class HeadTuning implements Strategy {
  readonly id = 'head-tuning';
  constructor(readonly options: HeadTuningOptions) {}

  phases(): PhaseSpec[] {
    return [
      { name: 'mask', ...this.options.mask_phase },
      { name: headWeightsPhase.id, ...this.options.head_phase },
    ];
  }
}

/** What the package provides; supermask checks it before anything runs. */
export const manifest: PluginManifest[] = [
  { id: 'head-weights', kind: 'phase', core: '^0.1.0', schema: { type: 'object', additionalProperties: false, properties: {} } },
  {
    id: 'head-tuning',
    kind: 'strategy',
    core: '^0.1.0',
    description: "A mask phase, then the task's free weights of the last layer train",
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mask_phase: phaseOptionsSchema(DEFAULTS, "Training of the task's scores"),
        head_phase: phaseOptionsSchema(DEFAULTS, "Training of the task's free weights of the last layer"),
      },
    },
  },
];

export function register(registry: Registry): void {
  const [phase, strategy] = manifest as [PluginManifest, PluginManifest];
  registry.register({ kind: 'phase', id: phase.id, description: 'Free weights of the last layer train', schema: phase.schema, create: () => headWeightsPhase });
  registry.register<HeadTuning, HeadTuningOptions>({
    kind: 'strategy',
    id: strategy.id,
    description: strategy.description!,
    schema: strategy.schema,
    defaults: { mask_scorer: { id: 'topk' }, ownership_policy: { id: 'exclusive' } },
    create: (options) => new HeadTuning(options),
  });
}
