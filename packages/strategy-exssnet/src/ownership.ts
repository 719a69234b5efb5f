import { LedgerOwnershipPolicy, type WeightOwnershipPolicy } from '@supermask/core';

/**
 * ExSSNeT's `exclusive` policy: in task t's weight phase only E_t = M_t AND NOT (M_1 OR ... OR
 * M_{t-1}) may change, the weights of t's mask that no earlier task uses. A weight used by an
 * earlier task never changes again, so every earlier task is preserved bit for bit.
 *
 * `overlap` (the paper's SSNeT ablation): all of M_t may change, including weights earlier tasks
 * use, so earlier tasks drift.
 *
 * Both record which task first used each weight (its owner) and report mask size, exclusive
 * size, overlap with earlier masks and capacity used, per task, per layer and in total.
 */
export class OwnershipPolicy extends LedgerOwnershipPolicy implements WeightOwnershipPolicy {
  readonly allowsWeightTraining = true;

  constructor(override readonly id: 'exclusive' | 'overlap') {
    super(id);
  }

  editable(layerIndex: number, _task: number, mask: Float32Array): Float32Array {
    return this.id === 'exclusive' ? this.ledger.exclusive(layerIndex, mask) : Float32Array.from(mask);
  }
}
