import * as tf from '@tensorflow/tfjs-core';
/** tfjs's NamedTensor (what Optimizer.getWeights gives; tfjs-core does not export the type). */
export type NamedTensor = { name: string; tensor: tf.Tensor };

export type FusedOptimizerKind = 'adam' | 'sgd' | 'momentum' | 'rmsprop';

export interface FusedOptimizerOptions {
  kind: FusedOptimizerKind;
  learningRate: number;
  /** momentum: the momentum; rmsprop: its momentum term. */
  momentum?: number;
  /** adam. */
  beta1?: number;
  beta2?: number;
  /** rmsprop. */
  decay?: number;
  /** Default: the backend's epsilon (1e-7 for float32), as tfjs's optimisers. */
  epsilon?: number;
}

const f = Math.fround;

/**
 * A backend may register a kernel of this name to compute the Adam or RMSProp step natively
 * (@supermask/kernels-ort does, for `cpu-ort`). Inputs: x (the variable), g (its gradient), s1, s2
 * (the state: Adam's moments m and v; RMSProp's mean square and moments), all float32 of one size.
 * Attrs: `kind` ('adam' | 'rmsprop') and `c`, the float32 constants of the step in this order:
 * adam [beta1, 1-beta1, beta2, 1-beta2, 1-beta1^t, 1-beta2^t, epsilon, -lr];
 * rmsprop [decay, 1-decay, momentum, lr, epsilon]. Outputs: [x', s1', s2'], computed with the same
 * float32 operations in the same order as the loops below (so the same bits).
 */
export const OPTIMIZER_STEP_KERNEL = 'SupermaskOptimizerStep';

/** Names of the two state slots (a, b) of each kind in getWeights/setWeights. */
const SLOT_NAMES: Record<FusedOptimizerKind, [string | undefined, string | undefined]> = {
  adam: ['m', 'v'],
  sgd: [undefined, undefined],
  momentum: ['momentum', undefined],
  rmsprop: ['rms', 'momentum'],
};

interface SlotState {
  /** adam: first moment; momentum: accumulation; rmsprop: mean square. */
  a?: Float32Array;
  /** adam: second moment; rmsprop: moments. */
  b?: Float32Array;
}

/**
 * tfjs's Adam, SGD, momentum and RMSProp (non-centred) update rules as one loop over each
 * variable's Float32Array instead of a dozen tensor ops, for the JS cpu backends (`cpu`,
 * `cpu-ort`). Every intermediate is rounded to float32 in the same order as tfjs's kernels, so
 * the results are the same bits as tf.train.adam / sgd / momentum / rmsprop on the cpu backend.
 * Like them it keeps state per variable (zeros at first use): a zero gradient with zero state
 * leaves a weight bit-exactly unchanged. No weight decay.
 */
export class FusedOptimizer extends tf.Optimizer {
  static get className(): string {
    return 'FusedOptimizer';
  }

  learningRate: number;
  private readonly kind: FusedOptimizerKind;
  private readonly momentum: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly decay: number;
  private readonly epsilon: number;
  private readonly state = new Map<string, SlotState>();
  /** Adam's beta1^t and beta2^t, as float32 (tfjs keeps them in scalar variables). */
  private accBeta1: number;
  private accBeta2: number;

  constructor(options: FusedOptimizerOptions) {
    super();
    this.kind = options.kind;
    this.learningRate = options.learningRate;
    this.momentum = options.momentum ?? 0;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.decay = options.decay ?? 0.9;
    this.epsilon = options.epsilon ?? tf.backend().epsilon();
    this.accBeta1 = f(this.beta1);
    this.accBeta2 = f(this.beta2);
  }

  setLearningRate(learningRate: number): void {
    this.learningRate = learningRate;
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const entries: [string, tf.Tensor | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((v) => [v.name, v.tensor])
      : Object.entries(variableGradients);
    for (const [name, gradient] of entries) {
      const variable = tf.engine().registeredVariables[name];
      if (!variable) throw new Error(`no variable named ${name}`);
      if (gradient == null) continue;
      if (gradient.size !== variable.size) throw new Error(`gradient of ${name} has ${gradient.size} values, the variable ${variable.size}`);
      const s = this.slots(name, variable.size);
      if ((this.kind === 'adam' || this.kind === 'rmsprop') && tf.getKernel(OPTIMIZER_STEP_KERNEL, tf.getBackend())) {
        this.kernelStep(variable, gradient, s);
        continue;
      }
      const g = gradient.dataSync() as Float32Array;
      const x = variable.dataSync() as Float32Array;
      const next = new Float32Array(x.length);
      switch (this.kind) {
        case 'adam':
          this.adam(x, g, s.a!, s.b!, next);
          break;
        case 'sgd':
          this.sgd(x, g, next);
          break;
        case 'momentum':
          this.momentumStep(x, g, s.a!, next);
          break;
        case 'rmsprop':
          this.rmsprop(x, g, s.a!, s.b!, next);
          break;
      }
      const value = tf.tensor(next, variable.shape, 'float32');
      variable.assign(value);
      value.dispose();
    }
    if (this.kind === 'adam') {
      this.accBeta1 = f(this.accBeta1 * f(this.beta1));
      this.accBeta2 = f(this.accBeta2 * f(this.beta2));
    }
    this.incrementIterations();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      kind: this.kind,
      learningRate: this.learningRate,
      momentum: this.momentum,
      beta1: this.beta1,
      beta2: this.beta2,
      decay: this.decay,
      epsilon: this.epsilon,
    };
  }

  /**
   * The optimiser's state as tfjs optimisers give it: `iter` (the step count, int32 scalar), then
   * per variable (in first-use order) its slots `<variable>/<slot>`: adam `m`, `v`; momentum
   * `momentum`; rmsprop `rms`, `momentum`. The tensors are new; the caller disposes them.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [{ name: 'iter', tensor: tf.scalar(this.iterations, 'int32') }];
    const [first, second] = SLOT_NAMES[this.kind];
    for (const [name, s] of this.state) {
      if (first && s.a) out.push({ name: `${name}/${first}`, tensor: tf.tensor(Float32Array.from(s.a)) });
      if (second && s.b) out.push({ name: `${name}/${second}`, tensor: tf.tensor(Float32Array.from(s.b)) });
    }
    return out;
  }

  /**
   * Restores what getWeights gave (variable names may be those of other variables of the same
   * sizes: the slots are bound to the names given). Adam's beta powers are recomputed from `iter`
   * by the same float32 products as the steps, so the next step is bit-identical.
   */
  override async setWeights(weights: NamedTensor[]): Promise<void> {
    const [iter, ...rest] = weights;
    if (iter?.name !== 'iter') throw new Error(`FusedOptimizer.setWeights: the first weight must be "iter", got ${iter?.name ?? 'nothing'}`);
    const iterations = (await iter.tensor.data())[0]!;
    const [first, second] = SLOT_NAMES[this.kind];
    this.state.clear();
    for (const w of rest) {
      const cut = w.name.lastIndexOf('/');
      const name = w.name.slice(0, cut);
      const slot = w.name.slice(cut + 1);
      if (cut < 0 || (slot !== first && slot !== second)) throw new Error(`FusedOptimizer.setWeights: "${w.name}" is no ${this.kind} slot (${[first, second].filter(Boolean).join(', ')})`);
      const s = this.state.get(name) ?? {};
      const values = Float32Array.from((await w.tensor.data()) as Float32Array);
      if (slot === first) s.a = values;
      else s.b = values;
      this.state.set(name, s);
    }
    this.iterations_ = iterations;
    this.accBeta1 = f(this.beta1);
    this.accBeta2 = f(this.beta2);
    if (this.kind === 'adam') {
      for (let i = 0; i < iterations; i++) {
        this.accBeta1 = f(this.accBeta1 * f(this.beta1));
        this.accBeta2 = f(this.accBeta2 * f(this.beta2));
      }
    }
  }

  override dispose(): void {
    this.state.clear();
    super.dispose();
  }

  /** The step by the backend's OPTIMIZER_STEP_KERNEL; the state arrays are replaced by the kernel's outputs. */
  private kernelStep(variable: tf.Variable, gradient: tf.Tensor, s: SlotState): void {
    const c =
      this.kind === 'adam'
        ? [f(this.beta1), f(1 - this.beta1), f(this.beta2), f(1 - this.beta2), f(1 - this.accBeta1), f(1 - this.accBeta2), f(this.epsilon), f(-this.learningRate)]
        : [f(this.decay), f(1 - this.decay), f(this.momentum), f(this.learningRate), f(this.epsilon)];
    const a = tf.tensor(s.a!, variable.shape, 'float32');
    const b = tf.tensor(s.b!, variable.shape, 'float32');
    const outputs = tf.engine().runKernel(OPTIMIZER_STEP_KERNEL, { x: variable, g: gradient, s1: a, s2: b }, { kind: this.kind, c }) as tf.Tensor[];
    const [x1, a1, b1] = outputs as [tf.Tensor, tf.Tensor, tf.Tensor];
    // The cpu backends never reuse a disposed tensor's array: keeping the arrays as state is safe.
    s.a = a1.dataSync() as Float32Array;
    s.b = b1.dataSync() as Float32Array;
    variable.assign(x1);
    tf.dispose([a, b, x1, a1, b1]);
  }

  private slots(name: string, n: number): SlotState {
    let s = this.state.get(name);
    if (!s) {
      s = {};
      if (this.kind !== 'sgd') s.a = new Float32Array(n);
      if (this.kind === 'adam' || this.kind === 'rmsprop') s.b = new Float32Array(n);
      this.state.set(name, s);
    }
    return s;
  }

  /**
   * tfjs AdamOptimizer: m' = m*b1 + g*(1-b1); v' = v*b2 + g²*(1-b2);
   * x' = (m'/(1-b1^t)) / (sqrt(v'/(1-b2^t)) + eps) * -lr + x.
   */
  private adam(x: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, out: Float32Array): void {
    const b1 = f(this.beta1);
    const b2 = f(this.beta2);
    const c1 = f(1 - this.beta1);
    const c2 = f(1 - this.beta2);
    const d1 = f(1 - this.accBeta1);
    const d2 = f(1 - this.accBeta2);
    const eps = f(this.epsilon);
    const nlr = f(-this.learningRate);
    for (let i = 0; i < x.length; i++) {
      const gi = g[i]!;
      const mi = f(f(m[i]! * b1) + f(gi * c1));
      const vi = f(f(v[i]! * b2) + f(f(gi * gi) * c2));
      m[i] = mi;
      v[i] = vi;
      const mHat = f(mi / d1);
      const vHat = f(vi / d2);
      out[i] = f(f(f(mHat / f(f(Math.sqrt(vHat)) + eps)) * nlr) + x[i]!);
    }
  }

  /** tfjs SGDOptimizer: x' = -lr*g + x. */
  private sgd(x: Float32Array, g: Float32Array, out: Float32Array): void {
    const c = f(-this.learningRate);
    for (let i = 0; i < x.length; i++) out[i] = f(f(c * g[i]!) + x[i]!);
  }

  /** tfjs MomentumOptimizer (no Nesterov): a' = momentum*a + g; x' = -lr*a' + x. */
  private momentumStep(x: Float32Array, g: Float32Array, acc: Float32Array, out: Float32Array): void {
    const c = f(-this.learningRate);
    const mu = f(this.momentum);
    for (let i = 0; i < x.length; i++) {
      const a = f(f(mu * acc[i]!) + g[i]!);
      acc[i] = a;
      out[i] = f(f(c * a) + x[i]!);
    }
  }

  /** tfjs RMSPropOptimizer (not centred): ms' = ms*decay + g²*(1-decay); mom' = mom*momentum + g*lr/sqrt(ms'+eps); x' = x - mom'. */
  private rmsprop(x: Float32Array, g: Float32Array, ms: Float32Array, mom: Float32Array, out: Float32Array): void {
    const decay = f(this.decay);
    const c = f(1 - this.decay);
    const mu = f(this.momentum);
    const lr = f(this.learningRate);
    const eps = f(this.epsilon);
    for (let i = 0; i < x.length; i++) {
      const gi = g[i]!;
      const s = f(f(ms[i]! * decay) + f(f(gi * gi) * c));
      const mo = f(f(mom[i]! * mu) + f(f(gi * lr) / f(Math.sqrt(f(s + eps)))));
      ms[i] = s;
      mom[i] = mo;
      out[i] = f(x[i]! - mo);
    }
  }
}
