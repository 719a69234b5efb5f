import { OwnershipLedger, type ComponentState, type LayerShape, type WeightOwnershipPolicy } from '@supermask/core';

/**
 * SupSup's policy: the random weights never change; only masks are learned. It still records
 * which task first used each weight, so mask overlap and capacity used are reported.
 */
export class FrozenWeights implements WeightOwnershipPolicy {
  readonly id = 'frozen';
  readonly allowsWeightTraining = false;
  private readonly ledger = new OwnershipLedger('frozen');
  private layerNames: string[] = [];

  editable(): null {
    return null;
  }

  recordTask(task: number, masks: readonly Float32Array[], layers: readonly LayerShape[]) {
    this.layerNames = layers.map((l) => l.name);
    return { ...this.ledger.record(task, masks, this.layerNames) };
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
