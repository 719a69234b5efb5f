import type { ComponentState } from './contracts.js';
import { asUint16, storedTensor, type StoredTensor } from './safetensors.js';

/**
 * Who owns which weight: the task whose mask used it first. Shared by the ownership policies
 * (ExSSNeT's exclusive and overlap, SupSup's frozen), which differ only in what they let a task
 * change. Owners are kept as task + 1 in a Uint16Array per layer (0 = unowned), so 65,535 tasks fit.
 */

export interface LayerOwnershipStats {
  layer: string;
  /** |M_t|: weights in the task's mask. */
  mask_size: number;
  /** |E_t|: weights of M_t that no earlier mask uses (the task's exclusive weights). */
  exclusive_size: number;
  /** |M_t ∩ (M_1 ∪ ... ∪ M_{t-1})| / |M_t|. */
  overlap: number;
  /** Fraction of the layer's weights owned by some task after task t. */
  capacity_used: number;
}

export interface TaskOwnershipStats {
  task: number;
  layers: LayerOwnershipStats[];
  total: Omit<LayerOwnershipStats, 'layer'>;
}

export interface OwnershipSummary {
  policy: string;
  tasks: TaskOwnershipStats[];
  /** Weights owned by some task, per layer and in total, after the last recorded task. */
  owned: Record<string, number>;
  owned_total: number;
  capacity_used: number;
}

export class OwnershipLedger {
  private owners: Uint16Array[] = [];
  private readonly stats: TaskOwnershipStats[] = [];

  constructor(readonly policy: string) {}

  /** Sizes the ledger for a network's layers (called on first use). */
  private ensure(masks: readonly Float32Array[]): void {
    if (this.owners.length === 0) this.owners = masks.map((m) => new Uint16Array(m.length));
  }

  /** 1 where `mask` keeps a weight that no earlier task owns: E_t. */
  exclusive(layerIndex: number, mask: Float32Array): Float32Array {
    const owners = this.owners[layerIndex];
    const out = new Float32Array(mask.length);
    for (let i = 0; i < mask.length; i++) out[i] = mask[i] !== 0 && (!owners || owners[i] === 0) ? 1 : 0;
    return out;
  }

  /** Owner task of each weight of a layer (-1 = unowned). */
  ownersOf(layerIndex: number): Int32Array {
    const owners = this.owners[layerIndex];
    if (!owners) return new Int32Array(0);
    return Int32Array.from(owners, (o) => o - 1);
  }

  /** Records task `task`'s final masks: every unowned weight they use becomes the task's. */
  record(task: number, masks: readonly Float32Array[], layerNames: readonly string[]): TaskOwnershipStats {
    if (task >= 65535) throw new RangeError('the ownership ledger holds at most 65,535 tasks');
    this.ensure(masks);
    const layers: LayerOwnershipStats[] = [];
    let maskTotal = 0;
    let exclusiveTotal = 0;
    let ownedTotal = 0;
    let sizeTotal = 0;
    masks.forEach((mask, li) => {
      const owners = this.owners[li]!;
      let maskSize = 0;
      let exclusiveSize = 0;
      let owned = 0;
      for (let i = 0; i < mask.length; i++) {
        if (mask[i] !== 0) {
          maskSize++;
          if (owners[i] === 0) {
            owners[i] = task + 1;
            exclusiveSize++;
          }
        }
        if (owners[i] !== 0) owned++;
      }
      layers.push({
        layer: layerNames[li] ?? `layer${li}`,
        mask_size: maskSize,
        exclusive_size: exclusiveSize,
        overlap: maskSize > 0 ? (maskSize - exclusiveSize) / maskSize : 0,
        capacity_used: owned / mask.length,
      });
      maskTotal += maskSize;
      exclusiveTotal += exclusiveSize;
      ownedTotal += owned;
      sizeTotal += mask.length;
    });
    const stats: TaskOwnershipStats = {
      task,
      layers,
      total: {
        mask_size: maskTotal,
        exclusive_size: exclusiveTotal,
        overlap: maskTotal > 0 ? (maskTotal - exclusiveTotal) / maskTotal : 0,
        capacity_used: sizeTotal > 0 ? ownedTotal / sizeTotal : 0,
      },
    };
    this.stats.push(stats);
    return stats;
  }

  /** Checkpoint state: owners per layer (task + 1, 0 = unowned) as U16 tensors, per-task figures as JSON. */
  saveState(): ComponentState {
    const tensors: Record<string, StoredTensor> = {};
    this.owners.forEach((o, li) => {
      tensors[`owners/${li}`] = storedTensor('U16', [o.length], o);
    });
    return { json: { policy: this.policy, layers: this.owners.length, tasks: this.stats }, tensors };
  }

  loadState(state: ComponentState): void {
    const json = state.json as { policy: string; layers: number; tasks: TaskOwnershipStats[] };
    if (json.policy !== this.policy) throw new Error(`ownership state was saved by policy "${json.policy}", not "${this.policy}"`);
    this.owners = Array.from({ length: json.layers }, (_, li) => {
      const t = state.tensors?.[`owners/${li}`];
      if (!t || t.dtype !== 'U16') throw new Error(`ownership state lacks the U16 tensor owners/${li}`);
      return asUint16(t);
    });
    this.stats.length = 0;
    this.stats.push(...json.tasks);
  }

  summary(layerNames: readonly string[]): OwnershipSummary {
    const owned: Record<string, number> = {};
    let total = 0;
    let size = 0;
    this.owners.forEach((o, li) => {
      let n = 0;
      for (let i = 0; i < o.length; i++) if (o[i] !== 0) n++;
      owned[layerNames[li] ?? `layer${li}`] = n;
      total += n;
      size += o.length;
    });
    return { policy: this.policy, tasks: this.stats, owned, owned_total: total, capacity_used: size > 0 ? total / size : 0 };
  }
}

/**
 * Base of ownership policies that record owners in an OwnershipLedger: recording, the report and
 * checkpoint state are the same for all of them; a policy says only what a task may change.
 */
export abstract class LedgerOwnershipPolicy {
  protected readonly ledger: OwnershipLedger;
  private layerNames: string[] = [];

  constructor(readonly id: string) {
    this.ledger = new OwnershipLedger(id);
  }

  recordTask(task: number, masks: readonly Float32Array[], layers: readonly { name: string }[]): Record<string, unknown> {
    this.layerNames = layers.map((l) => l.name);
    return { ...this.ledger.record(task, masks, this.layerNames) };
  }

  /** Owner task (0-based, -1 = none) of every weight of a layer. */
  owners(layerIndex: number): Int32Array {
    return this.ledger.ownersOf(layerIndex);
  }

  report(): Record<string, unknown> {
    return { ...this.ledger.summary(this.layerNames) };
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
}
