import type { WeightOwnershipPolicy } from '@supermask/core';

/** SupSup's policy: the random weights never change; only masks are learned. */
export class FrozenWeights implements WeightOwnershipPolicy {
  readonly id = 'frozen';
  readonly allowsWeightTraining = false;

  editable(): null {
    return null;
  }

  recordTask(): void {}

  report(): undefined {
    return undefined;
  }
}
