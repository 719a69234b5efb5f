import type * as tf from '@tensorflow/tfjs-core';
import {
  allocateDensities,
  effectiveWeight,
  kaimingUniform,
  keptCount,
  onDevice,
  straightThroughMask,
  straightThroughProduct,
  straightThroughTensorMask,
  topKAbsMask,
  topKAbsMaskTensor,
  type DensityAllocation,
  type LayerShape,
  type MaskScorer,
  type Rng,
} from '@supermask/core';

export interface TopKOptions {
  /** Fraction of weights each task's mask keeps (mean over layers for `er`). */
  density: number;
  /** How the density is spread over layers. */
  allocation: DensityAllocation;
}

export const TOPK_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    density: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.1, description: 'Fraction of weights each mask keeps' },
    allocation: {
      enum: ['uniform', 'er'],
      default: 'uniform',
      description: 'uniform: every layer keeps `density`; er: Erdős–Rényi allocation (denser small layers), same total',
    },
  },
};

/**
 * The edge-popup scorer of SupSup: a task's mask keeps the round(density * n) weights of each
 * layer with the largest |score|, found by selection (quickselect), not by a sort. The gradient
 * reaches the scores straight through the top-k (sign(S) * dL/dM). Scores start Kaiming-uniform.
 */
export class TopKScorer implements MaskScorer {
  readonly id = 'topk';
  private readonly scratch = new Map<number, Float32Array>();

  constructor(readonly options: TopKOptions) {}

  densities(layers: readonly LayerShape[]): number[] {
    return allocateDensities(layers, this.options.density, this.options.allocation);
  }

  initScores(layer: LayerShape, rng: Rng): Float32Array {
    return kaimingUniform(layer.size, layer.fanIn, rng);
  }

  maskValues(scores: Float32Array, density: number): Float32Array {
    let scratch = this.scratch.get(scores.length);
    if (!scratch) {
      scratch = new Float32Array(scores.length);
      this.scratch.set(scores.length, scratch);
    }
    return topKAbsMask(scores, keptCount(scores.length, density), undefined, scratch);
  }

  /** The mask found on the device: a radix selection of the threshold (no sort, no read back), the same tie rule as `maskValues`. */
  maskTensor(scores: tf.Tensor, density: number): tf.Tensor {
    return topKAbsMaskTensor(scores, keptCount(scores.size, density));
  }

  /** On a GPU backend the mask is found there (no read back of the scores per step). */
  maskWithGradient(scores: tf.Tensor, density: number): tf.Tensor {
    if (onDevice()) return straightThroughTensorMask(scores, (s) => this.maskTensor(s, density));
    return straightThroughMask(scores, (values) => this.maskValues(values, density));
  }

  /** W * mask with the gradient to the scores in one kernel where the backend has one (cpu-ort); on a GPU backend, W times maskWithGradient's mask. */
  weightWithGradient(weight: tf.Tensor, scores: tf.Tensor, density: number): tf.Tensor {
    if (onDevice()) return effectiveWeight(weight, this.maskWithGradient(scores, density));
    return straightThroughProduct(weight, scores, (values) => this.maskValues(values, density));
  }
}
