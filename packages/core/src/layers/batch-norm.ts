import * as tf from '@tensorflow/tfjs-core';
import type { ForwardContext } from '../contracts.js';
import { FUSED_OPTIMIZER_BACKENDS } from '../phases.js';
import { uniqueName, variableFrom } from './masked-layer.js';

const f = Math.fround;

interface BnState {
  mean: tf.Variable;
  variance: tf.Variable;
  frozen: boolean;
  /** Host copy of the statistics while they cannot change (frozen) or since they were set from host values. */
  host?: { mean: Float32Array; variance: Float32Array };
}

/**
 * Non-affine batch normalisation with running statistics per task (SupSup, ExSSNeT): no learned
 * scale or shift, so nothing in it is shared between tasks. Normalises over every axis but the
 * last (channels-last). In training mode it uses the batch statistics and updates the task's
 * running mean and (unbiased) variance with `momentum`; once a task is frozen its statistics
 * never change again.
 */
export class TaskBatchNorm {
  private readonly states = new Map<number, BnState>();

  constructor(
    readonly name: string,
    readonly channels: number,
    readonly momentum = 0.1,
    readonly epsilon = 1e-5,
  ) {}

  addTask(task: number): void {
    if (this.states.has(task)) return;
    this.states.set(task, {
      mean: variableFrom(tf.zeros([this.channels]), false, uniqueName(`${this.name}/mean_t${task}`)),
      variance: variableFrom(tf.ones([this.channels]), false, uniqueName(`${this.name}/variance_t${task}`)),
      frozen: false,
    });
  }

  /** Stops updating a finished task's statistics. */
  freeze(task: number): void {
    this.state(task).frozen = true;
  }

  /**
   * A copy of a task's running statistics, read synchronously: from the host copy kept once they
   * were read with `readStatistics` after `freeze` or set with `setStatistics` (no device read),
   * else with `dataSync` (a GPU backend in Node has none: use `readStatistics`).
   */
  statistics(task: number): { mean: Float32Array; variance: Float32Array } {
    const s = this.state(task);
    if (s.host) return { mean: Float32Array.from(s.host.mean), variance: Float32Array.from(s.host.variance) };
    return { mean: Float32Array.from(s.mean.dataSync() as Float32Array), variance: Float32Array.from(s.variance.dataSync() as Float32Array) };
  }

  /** `statistics` read with `await data()`, as GPU backends need; a frozen task's are kept on the host from then on. */
  async readStatistics(task: number): Promise<{ mean: Float32Array; variance: Float32Array }> {
    const s = this.state(task);
    if (!s.host) {
      const [mean, variance] = (await Promise.all([s.mean.data(), s.variance.data()])) as Float32Array[];
      const host = { mean: Float32Array.from(mean!), variance: Float32Array.from(variance!) };
      if (!s.frozen) return host;
      s.host = host;
    }
    return this.statistics(task);
  }

  setStatistics(task: number, mean: Float32Array, variance: Float32Array): void {
    this.addTask(task);
    const s = this.state(task);
    tf.tidy(() => {
      s.mean.assign(tf.tensor1d(mean));
      s.variance.assign(tf.tensor1d(variance));
    });
    s.host = { mean: Float32Array.from(mean), variance: Float32Array.from(variance) };
  }

  apply<T extends tf.Tensor>(x: T, ctx: ForwardContext): T {
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
    if (ctx.batchStatistics) {
      const { mean, variance } = tf.moments(x, axes);
      return x.sub(mean).div(variance.add(this.epsilon).sqrt()) as T;
    }
    const s = this.state(ctx.task);
    if (ctx.training && !s.frozen) {
      const { mean, variance } = tf.moments(x, axes);
      this.track(ctx.task, mean, variance, x.size / this.channels);
      return x.sub(mean).div(variance.add(this.epsilon).sqrt()) as T;
    }
    if (ctx.training) {
      // A frozen task trained again (not done by the built-in strategies): batch statistics, no update.
      const { mean, variance } = tf.moments(x, axes);
      return x.sub(mean).div(variance.add(this.epsilon).sqrt()) as T;
    }
    return x.sub(s.mean).div(s.variance.add(this.epsilon).sqrt()) as T;
  }

  /** A task's running statistics and whether they are frozen (for kernels that normalise by themselves). */
  running(task: number): { readonly mean: tf.Tensor1D; readonly variance: tf.Tensor1D; readonly frozen: boolean } {
    const s = this.state(task);
    return { mean: s.mean as tf.Tensor1D, variance: s.variance as tf.Tensor1D, frozen: s.frozen };
  }

  /**
   * Moves a task's running statistics toward a batch's mean and biased variance over `count`
   * values per channel. On the JS cpu backends (whose tensors are Float32Arrays) one loop over the
   * channels computes what the tensor ops below compute, with the same float32 roundings in the
   * same order (so the same bits), without their nine kernels and five scalars a call.
   */
  track(task: number, mean: tf.Tensor, variance: tf.Tensor, count: number): void {
    const s = this.state(task);
    s.host = undefined;
    if (FUSED_OPTIMIZER_BACKENDS.includes(tf.getBackend()) && mean.dtype === 'float32' && variance.dtype === 'float32') {
      const [m0, v0, m, v] = [s.mean, s.variance, mean, variance].map((t) => t.dataSync() as Float32Array) as [Float32Array, Float32Array, Float32Array, Float32Array];
      const keep = f(1 - this.momentum);
      const momentum = f(this.momentum);
      const unbias = count > 1 ? f(count / (count - 1)) : 1;
      const nextMean = new Float32Array(this.channels);
      const nextVariance = new Float32Array(this.channels);
      for (let c = 0; c < this.channels; c++) {
        nextMean[c] = f(f(m0[c]! * keep) + f(m[c]! * momentum));
        nextVariance[c] = f(f(v0[c]! * keep) + f(f(v[c]! * unbias) * momentum));
      }
      tf.tidy(() => {
        s.mean.assign(tf.tensor1d(nextMean));
        s.variance.assign(tf.tensor1d(nextVariance));
      });
      return;
    }
    tf.tidy(() => {
      const unbiased = count > 1 ? variance.mul(count / (count - 1)) : variance;
      s.mean.assign(s.mean.mul(1 - this.momentum).add(mean.mul(this.momentum)));
      s.variance.assign(s.variance.mul(1 - this.momentum).add(unbiased.mul(this.momentum)));
    });
  }

  dispose(): void {
    for (const s of this.states.values()) {
      s.mean.dispose();
      s.variance.dispose();
    }
    this.states.clear();
  }

  private state(task: number): BnState {
    const s = this.states.get(task);
    if (!s) throw new Error(`batch norm ${this.name} has no statistics for task ${task}`);
    return s;
  }
}
