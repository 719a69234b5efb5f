import { phaseOptionsSchema, type PhaseOptions, type PhaseSpec, type Strategy } from '@supermask/core';

export interface ExSSNeTOptions {
  mask_phase: PhaseOptions;
  /** `lr` left out means: the mask phase's learning rate. */
  weight_phase: Omit<PhaseOptions, 'lr'> & { lr?: number };
}

/** Defaults of the paper's code: Adam, no weight decay, a fresh optimiser per phase, one lr. */
export const EXSSNET_PHASE_DEFAULTS: PhaseOptions = {
  epochs: 1,
  optimizer: 'adam',
  lr: 0.01,
  momentum: 0.9,
  schedule: 'constant',
  batch_size: 64,
};

const weightPhaseSchema = (() => {
  const schema = phaseOptionsSchema(EXSSNET_PHASE_DEFAULTS, 'Training of the weights the ownership policy allows (mask fixed)') as {
    properties: Record<string, Record<string, unknown>>;
  };
  const { default: _unused, ...lr } = schema.properties.lr!;
  schema.properties.lr = { ...lr, description: 'Learning rate (default: the mask phase lr)' };
  return schema;
})();

export const EXSSNET_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mask_phase: phaseOptionsSchema(EXSSNET_PHASE_DEFAULTS, "Training of the task's scores (weights fixed)"),
    weight_phase: weightPhaseSchema,
  },
};

/**
 * ExSSNeT (Yadav & Bansal, 2023): per task a mask phase (edge-popup over the current weights),
 * then a weight phase that trains the weights the ownership policy allows with the mask fixed.
 * With the `exclusive` policy that is ExSSNeT; with `overlap` it is the SSNeT ablation.
 */
export class ExSSNeT implements Strategy {
  constructor(
    readonly id: 'exssnet' | 'ssnet',
    readonly options: ExSSNeTOptions,
  ) {}

  phases(): PhaseSpec[] {
    const mask = this.options.mask_phase;
    const weight = this.options.weight_phase;
    return [
      { name: 'mask', ...mask },
      { name: 'weight', ...weight, lr: weight.lr ?? mask.lr },
    ];
  }
}
