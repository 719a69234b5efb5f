import * as tf from '@tensorflow/tfjs-core';
import {
  asFloat32,
  convBn,
  fusedConvBnAvailable,
  describeSpec,
  kaimingNormal,
  storedTensor,
  type StoredTensor,
  MaskedConv2d,
  MaskedDense,
  signedConstant,
  TaskBatchNorm,
  type Backbone,
  type BackboneSpec,
  type ForwardContext,
  type MaskedLayer,
  type Rng,
} from '@supermask/core';

export type WeightInit = 'signed_constant' | 'kaiming_normal';
export type HeadKind = 'conv1x1' | 'dense';

export interface ResNetOptions {
  /** Base width: channels of the first stage (20 in the GEM / SupSup / ExSSNeT ResNet-18). */
  nf: number;
  weight_init: WeightInit;
  /** The masked classifier over the pooled features: a 1x1 convolution (as in the papers' code) or a dense layer. */
  head: HeadKind;
  /** Batch-norm momentum of the per-task running statistics. */
  bn_momentum: number;
}

export const resnetSchema = (defaultNf: number) => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    nf: { type: 'integer', minimum: 1, default: defaultNf, description: 'Base width (channels of the first stage)' },
    weight_init: {
      enum: ['signed_constant', 'kaiming_normal'],
      default: 'signed_constant',
      description: 'signed_constant: ±sqrt(2/fan_in) with random signs (SupSup); kaiming_normal: N(0, 2/fan_in)',
    },
    head: { enum: ['conv1x1', 'dense'], default: 'conv1x1', description: 'Masked classifier over the pooled features' },
    bn_momentum: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.1, description: 'Momentum of the per-task batch-norm statistics' },
  },
});

interface Block {
  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D;
  /** The same on NCHW tensors through core's fused conv + batch-norm units. */
  forwardFused(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D;
}

/** Builds masked layers and per-task batch norms, collecting them in forward order. */
class Builder {
  readonly layers: MaskedLayer[] = [];
  readonly norms: TaskBatchNorm[] = [];
  constructor(
    private readonly rng: Rng,
    private readonly init: WeightInit,
    private readonly momentum: number,
  ) {}

  conv(name: string, cin: number, cout: number, k: number, stride: number): MaskedConv2d {
    const fanIn = k * k * cin;
    const initFn = this.init === 'signed_constant' ? signedConstant : kaimingNormal;
    const layer = new MaskedConv2d(name, cin, cout, k, stride, k === 1 ? 0 : (k - 1) / 2, initFn(k * k * cin * cout, fanIn, this.rng.child(`weights/${name}`)));
    this.layers.push(layer);
    return layer;
  }

  dense(name: string, inputs: number, outputs: number): MaskedDense {
    const initFn = this.init === 'signed_constant' ? signedConstant : kaimingNormal;
    const layer = new MaskedDense(name, inputs, outputs, initFn(inputs * outputs, inputs, this.rng.child(`weights/${name}`)));
    this.layers.push(layer);
    return layer;
  }

  bn(name: string, channels: number): TaskBatchNorm {
    const norm = new TaskBatchNorm(name, channels, this.momentum);
    this.norms.push(norm);
    return norm;
  }
}

/** GEM BasicBlock: 3x3 conv, BN, ReLU, 3x3 conv, BN, plus the (1x1 conv + BN) shortcut; ReLU. */
class BasicBlock implements Block {
  static readonly expansion = 1;
  private readonly conv1: MaskedConv2d;
  private readonly bn1: TaskBatchNorm;
  private readonly conv2: MaskedConv2d;
  private readonly bn2: TaskBatchNorm;
  private readonly shortcut?: { conv: MaskedConv2d; bn: TaskBatchNorm };

  constructor(b: Builder, name: string, inPlanes: number, planes: number, stride: number) {
    this.conv1 = b.conv(`${name}.conv1`, inPlanes, planes, 3, stride);
    this.bn1 = b.bn(`${name}.bn1`, planes);
    this.conv2 = b.conv(`${name}.conv2`, planes, planes, 3, 1);
    this.bn2 = b.bn(`${name}.bn2`, planes);
    if (stride !== 1 || inPlanes !== planes) {
      this.shortcut = { conv: b.conv(`${name}.shortcut`, inPlanes, planes, 1, stride), bn: b.bn(`${name}.shortcut_bn`, planes) };
    }
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    const out = this.bn2.apply(this.conv2.apply(tf.relu(this.bn1.apply(this.conv1.apply(x, ctx), ctx)), ctx), ctx);
    const skip = this.shortcut ? this.shortcut.bn.apply(this.shortcut.conv.apply(x, ctx), ctx) : x;
    return tf.relu(out.add(skip)) as tf.Tensor4D;
  }

  forwardFused(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    const h = convBn(x, { conv: this.conv1, bn: this.bn1, relu: true }, ctx);
    const skip = this.shortcut ? convBn(x, { ...this.shortcut, relu: false }, ctx) : x;
    return convBn(h, { conv: this.conv2, bn: this.bn2, relu: true }, ctx, skip);
  }
}

/** Bottleneck: 1x1, BN, ReLU, 3x3 (stride), BN, ReLU, 1x1 (x4), BN, plus the shortcut; ReLU. */
class Bottleneck implements Block {
  static readonly expansion = 4;
  private readonly convs: MaskedConv2d[];
  private readonly bns: TaskBatchNorm[];
  private readonly shortcut?: { conv: MaskedConv2d; bn: TaskBatchNorm };

  constructor(b: Builder, name: string, inPlanes: number, planes: number, stride: number) {
    const out = planes * Bottleneck.expansion;
    this.convs = [b.conv(`${name}.conv1`, inPlanes, planes, 1, 1), b.conv(`${name}.conv2`, planes, planes, 3, stride), b.conv(`${name}.conv3`, planes, out, 1, 1)];
    this.bns = [b.bn(`${name}.bn1`, planes), b.bn(`${name}.bn2`, planes), b.bn(`${name}.bn3`, out)];
    if (stride !== 1 || inPlanes !== out) {
      this.shortcut = { conv: b.conv(`${name}.shortcut`, inPlanes, out, 1, stride), bn: b.bn(`${name}.shortcut_bn`, out) };
    }
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    let h = tf.relu(this.bns[0]!.apply(this.convs[0]!.apply(x, ctx), ctx));
    h = tf.relu(this.bns[1]!.apply(this.convs[1]!.apply(h, ctx), ctx));
    h = this.bns[2]!.apply(this.convs[2]!.apply(h, ctx), ctx);
    const skip = this.shortcut ? this.shortcut.bn.apply(this.shortcut.conv.apply(x, ctx), ctx) : x;
    return tf.relu(h.add(skip)) as tf.Tensor4D;
  }

  forwardFused(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    let h = convBn(x, { conv: this.convs[0]!, bn: this.bns[0]!, relu: true }, ctx);
    h = convBn(h, { conv: this.convs[1]!, bn: this.bns[1]!, relu: true }, ctx);
    const skip = this.shortcut ? convBn(x, { ...this.shortcut, relu: false }, ctx) : x;
    return convBn(h, { conv: this.convs[2]!, bn: this.bns[2]!, relu: true }, ctx, skip);
  }
}

/**
 * ResNet of masked convolutions with per-task non-affine batch norm, as in the GEM / SupSup /
 * ExSSNeT code: a 3x3 stride-1 stem (nf channels), four stages (nf, 2nf, 4nf, 8nf channels, the
 * last three with stride 2), global average pooling and a masked classifier. Every convolution is
 * bias-free; batch norm has no learned parameters and one set of running statistics per task.
 * Input: NHWC images of any size and channel count.
 */
export class ResNet implements Backbone {
  readonly layers: MaskedLayer[];
  private readonly norms: TaskBatchNorm[];
  private readonly stem: MaskedConv2d;
  private readonly stemBn: TaskBatchNorm;
  private readonly blocks: Block[] = [];
  private readonly head: MaskedConv2d | MaskedDense;
  readonly featureSize: number;

  constructor(
    readonly id: string,
    readonly spec: BackboneSpec,
    readonly options: ResNetOptions,
    readonly blockKind: 'basic' | 'bottleneck',
    readonly stages: number[],
    rng: Rng,
  ) {
    if (spec.inputShape.length !== 3) throw new Error(`${id} needs image inputs [height, width, channels], got shape [${spec.inputShape.join(', ')}]`);
    const channels = spec.inputShape[2]!;
    const b = new Builder(rng, options.weight_init, options.bn_momentum);
    const nf = options.nf;
    this.stem = b.conv('stem', channels, nf, 3, 1);
    this.stemBn = b.bn('stem_bn', nf);
    const Kind = blockKind === 'basic' ? BasicBlock : Bottleneck;
    let inPlanes = nf;
    stages.forEach((count, s) => {
      const planes = nf * 2 ** s;
      for (let i = 0; i < count; i++) {
        this.blocks.push(new Kind(b, `layer${s + 1}.${i}`, inPlanes, planes, i === 0 && s > 0 ? 2 : 1));
        inPlanes = planes * Kind.expansion;
      }
    });
    this.featureSize = inPlanes;
    this.head = options.head === 'conv1x1' ? b.conv('head', inPlanes, spec.numOutputs, 1, 1) : b.dense('head', inPlanes, spec.numOutputs);
    this.layers = b.layers;
    this.norms = b.norms;
  }

  addTask(task: number): void {
    for (const n of this.norms) n.addTask(task);
  }

  finishTask(task: number): void {
    for (const n of this.norms) n.freeze(task);
  }

  /** The task's batch-norm statistics, read with `await data()` (a GPU backend has no synchronous read). */
  async taskState(task: number): Promise<Record<string, StoredTensor>> {
    const out: Record<string, StoredTensor> = {};
    for (const n of this.norms) {
      const { mean, variance } = await n.readStatistics(task);
      out[`${n.name}/mean`] = storedTensor('F32', [n.channels], mean);
      out[`${n.name}/variance`] = storedTensor('F32', [n.channels], variance);
    }
    return out;
  }

  loadTaskState(task: number, tensors: Record<string, StoredTensor>): void {
    for (const n of this.norms) {
      const mean = tensors[`${n.name}/mean`];
      const variance = tensors[`${n.name}/variance`];
      if (!mean || !variance) throw new Error(`batch-norm statistics of ${n.name} for task ${task + 1} are missing`);
      n.setStatistics(task, asFloat32(mean), asFloat32(variance));
    }
  }

  /** Per-task batch-norm layers, in forward order. */
  get batchNorms(): readonly TaskBatchNorm[] {
    return this.norms;
  }

  /**
   * Penultimate features. On a backend with core's fused conv + batch-norm kernels (cpu-ort) the
   * network runs NCHW, one fused kernel per convolution and its batch norm (ReLU and residual
   * add included) each way; elsewhere, or with SUPERMASK_FUSED_CONV=0, op by op (NHWC).
   */
  features(x: tf.Tensor, ctx: ForwardContext): tf.Tensor2D {
    if (fusedConvBnAvailable()) {
      const [n, height, width, channels] = x.shape as [number, number, number, number];
      // One channel: NHWC and NCHW hold the same values in the same order.
      const nchw = channels === 1 ? x.reshape([n, 1, height, width]) : tf.transpose(x, [0, 3, 1, 2]);
      let h = convBn(nchw as tf.Tensor4D, { conv: this.stem, bn: this.stemBn, relu: true }, ctx);
      for (const block of this.blocks) h = block.forwardFused(h, ctx);
      return h.mean([2, 3]) as tf.Tensor2D;
    }
    let h = tf.relu(this.stemBn.apply(this.stem.apply(x as tf.Tensor4D, ctx), ctx));
    for (const block of this.blocks) h = block.forward(h, ctx);
    return h.mean([1, 2]) as tf.Tensor2D;
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor2D {
    const f = this.features(x, ctx);
    if (this.head instanceof MaskedConv2d) {
      return this.head.apply(f.reshape([-1, 1, 1, this.featureSize]) as tf.Tensor4D, ctx).reshape([-1, this.spec.numOutputs]) as tf.Tensor2D;
    }
    return this.head.apply(f, ctx);
  }

  describe(): Record<string, unknown> {
    return {
      id: this.id,
      ...describeSpec(this.spec),
      block: this.blockKind,
      stages: this.stages,
      ...this.options,
      feature_size: this.featureSize,
      parameters: this.layers.reduce((s, l) => s + l.size, 0),
      layers: this.layers.map((l) => ({
        name: l.name,
        type: l instanceof MaskedConv2d ? 'masked_conv2d' : 'masked_dense',
        shape: l.shape,
        ...(l instanceof MaskedConv2d ? { stride: l.stride, padding: l.padding } : {}),
        bias: false,
      })),
      batch_norm: this.norms.map((n) => ({ name: n.name, channels: n.channels, affine: false, per_task: true })),
    };
  }

  dispose(): void {
    for (const l of this.layers) l.dispose();
    for (const n of this.norms) n.dispose();
  }
}
