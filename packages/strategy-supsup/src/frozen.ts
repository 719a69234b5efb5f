import { LedgerOwnershipPolicy, type WeightOwnershipPolicy } from '@supermask/core';

/**
 * SupSup's policy: the random weights never change; only masks are learned. It still records
 * which task first used each weight, so mask overlap and capacity used are reported.
 */
export class FrozenWeights extends LedgerOwnershipPolicy implements WeightOwnershipPolicy {
  readonly allowsWeightTraining = false;

  constructor() {
    super('frozen');
  }

  editable(): null {
    return null;
  }
}
