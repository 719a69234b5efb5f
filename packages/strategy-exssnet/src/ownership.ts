import { OwnershipLedger, type ComponentState, type LayerShape, type WeightOwnershipPolicy } from '@supermask/core';

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
export class OwnershipPolicy implements WeightOwnershipPolicy {
  readonly allowsWeightTraining = true;
  private readonly ledger: OwnershipLedger;
  private layerNames: string[] = [];

  constructor(readonly id: 'exclusive' | 'overlap') {
    this.ledger = new OwnershipLedger(id);
  }

  editable(layerIndex: number, _task: number, mask: Float32Array): Float32Array {
    return this.id === 'exclusive' ? this.ledger.exclusive(layerIndex, mask) : Float32Array.from(mask);
  }

  recordTask(task: number, masks: readonly Float32Array[], layers: readonly LayerShape[]) {
    this.layerNames = layers.map((l) => l.name);
    return { ...this.ledger.record(task, masks, this.layerNames) };
  }

  /** Owner task (0-based, -1 = none) of every weight of a layer. */
  owners(layerIndex: number): Int32Array {
    return this.ledger.ownersOf(layerIndex);
  }

  saveState(): ComponentState {
    const state = this.ledger.saveState();
    return { ...state, json: { ledger: state.json, layer_names: this.layerNames } };
  }

  loadState(state: ComponentState): void {
    const json = state.json as { ledger: unknown; layer_names: string[] };
    this.ledger.loadState({ json: json.ledger, tensors: state.tensors });
    this.layerNames = json.layer_names;
  }

  report() {
    return { ...this.ledger.summary(this.layerNames) };
  }
}
