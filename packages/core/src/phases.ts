import * as tf from '@tensorflow/tfjs-core';
import type { OptimizerName, PhaseOptions, ScheduleName } from './contracts.js';
import { FusedOptimizer } from './fused-optimizer.js';
import type { JsonSchema } from './registry.js';

export { FusedOptimizer, OPTIMIZER_STEP_KERNEL, type FusedOptimizerKind, type FusedOptimizerOptions } from './fused-optimizer.js';

/** Backends whose tensors live in JS Float32Arrays: there the fused optimiser step replaces tfjs's per-op one. */
export const FUSED_OPTIMIZER_BACKENDS: readonly string[] = ['cpu', 'cpu-ort'];

export const OPTIMIZERS: readonly OptimizerName[] = ['adam', 'sgd', 'rmsprop'];
export const SCHEDULES: readonly ScheduleName[] = ['constant', 'cosine'];

/** JSON Schema of a phase's options, with the given defaults (strategies embed it). */
export function phaseOptionsSchema(defaults: PhaseOptions, description: string): JsonSchema {
  return {
    type: 'object',
    description,
    additionalProperties: false,
    default: {},
    properties: {
      epochs: { type: 'integer', minimum: 0, default: defaults.epochs, description: 'Epochs of this phase per task' },
      optimizer: { enum: [...OPTIMIZERS], default: defaults.optimizer, description: 'A fresh optimiser is made for every phase' },
      lr: { type: 'number', exclusiveMinimum: 0, default: defaults.lr, description: 'Learning rate' },
      momentum: { type: 'number', minimum: 0, maximum: 1, default: defaults.momentum, description: 'Momentum (sgd, rmsprop)' },
      schedule: { enum: [...SCHEDULES], default: defaults.schedule, description: 'Learning-rate schedule over the epochs of the phase' },
      batch_size: { type: 'integer', minimum: 1, default: defaults.batch_size, description: 'Training batch size' },
    },
  };
}

/**
 * A fresh optimiser for one phase. No weight decay, by design: protected weights must not move.
 * On the JS cpu backends (FUSED_OPTIMIZER_BACKENDS) it is a FusedOptimizer, one loop per
 * variable with exactly tfjs's float32 arithmetic; elsewhere tfjs's own optimiser. `fused`
 * forces either.
 */
export function createOptimizer(phase: PhaseOptions, fused: boolean = FUSED_OPTIMIZER_BACKENDS.includes(tf.getBackend())): tf.Optimizer {
  if (fused) {
    switch (phase.optimizer) {
      case 'adam':
        return new FusedOptimizer({ kind: 'adam', learningRate: phase.lr });
      case 'sgd':
        return phase.momentum > 0
          ? new FusedOptimizer({ kind: 'momentum', learningRate: phase.lr, momentum: phase.momentum })
          : new FusedOptimizer({ kind: 'sgd', learningRate: phase.lr });
      case 'rmsprop':
        return new FusedOptimizer({ kind: 'rmsprop', learningRate: phase.lr, decay: 0.9, momentum: phase.momentum });
    }
  }
  switch (phase.optimizer) {
    case 'adam':
      return tf.train.adam(phase.lr);
    case 'sgd':
      return phase.momentum > 0 ? disposingLearningRate(tf.train.momentum(phase.lr, phase.momentum)) : tf.train.sgd(phase.lr);
    case 'rmsprop':
      return tf.train.rmsprop(phase.lr, 0.9, phase.momentum);
  }
}

/** tfjs's MomentumOptimizer.dispose() leaves SGD's learning-rate scalar (`c`) alive: dispose it too. */
function disposingLearningRate(optimizer: tf.Optimizer): tf.Optimizer {
  const dispose = optimizer.dispose.bind(optimizer);
  optimizer.dispose = () => {
    dispose();
    (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
  };
  return optimizer;
}

/** Learning rate of an epoch (0-based) under the phase's schedule. */
export function learningRateAt(phase: PhaseOptions, epoch: number): number {
  if (phase.schedule === 'cosine' && phase.epochs > 1) {
    return 0.5 * phase.lr * (1 + Math.cos((Math.PI * epoch) / phase.epochs));
  }
  return phase.lr;
}

/** Sets the learning rate of a tfjs optimiser made by createOptimizer. */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}
