import { phaseOptionsSchema, type PhaseOptions, type PhaseSpec, type Strategy } from '@supermask/core';

export interface SupSupOptions {
  mask_phase: PhaseOptions;
}

export const SUPSUP_MASK_PHASE_DEFAULTS: PhaseOptions = {
  epochs: 1,
  optimizer: 'adam',
  lr: 0.01,
  momentum: 0.9,
  schedule: 'constant',
  batch_size: 64,
};

export const SUPSUP_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mask_phase: phaseOptionsSchema(SUPSUP_MASK_PHASE_DEFAULTS, "Training of each task's scores (weights frozen)"),
  },
};

/** SupSup (Wortsman et al., 2020): one mask phase per task over frozen random weights. */
export class SupSup implements Strategy {
  readonly id = 'supsup';
  constructor(readonly options: SupSupOptions) {}

  phases(): PhaseSpec[] {
    return [{ name: 'mask', ...this.options.mask_phase }];
  }
}
