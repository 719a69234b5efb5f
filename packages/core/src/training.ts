import * as tf from '@tensorflow/tfjs-core';
import { augmentationFill, isIdentityAugmentation } from './augment.js';
import type { ResolvedConfig } from './config.js';
import type { Backbone, PhaseSpec, WeightOwnershipPolicy } from './contracts.js';
import type { Task } from './data.js';
import { classLogits, evaluateTask, gatherBatch } from './evaluation.js';
import type { EventInfo, ObserverEvent, PhaseInfo, TrainingPosition } from './observer.js';
import { resumeLoop, type LoopState, type ResumePoint } from './mid-task.js';
import type { PhaseKind } from './phase-kind.js';
import { createOptimizer, learningRateAt, setLearningRate } from './phases.js';
import type { PhaseRecord } from './results.js';
import type { Rng } from './rng.js';

/** How often (ms of work) the loop reads losses and yields to the event loop. */
export const YIELD_INTERVAL_MS = 100;

/**
 * Lets the event loop run (I/O, timers, signals, a worker's messages): setImmediate in Node,
 * setTimeout in a browser (at most a few ms per yield, once per YIELD_INTERVAL_MS of work).
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof globalThis.setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

/** Thrown at a batch boundary when a stop was requested; the experiment turns it into an `interrupted` outcome. */
export class StopRequested extends Error {
  constructor(readonly position: { task: number; phase: string; epoch: number; batch: number }) {
    super(`stopped before task ${position.task + 1}, phase ${position.phase}, epoch ${position.epoch + 1}, batch ${position.batch + 1}`);
    this.name = 'StopRequested';
  }
}

/** What the phase loop needs from the experiment. */
export interface PhaseHost {
  readonly config: ResolvedConfig;
  readonly backbone: Backbone;
  readonly ownership: WeightOwnershipPolicy;
  readonly strategyId: string;
  readonly numClasses: number;
  readonly normalization: { mean: number[]; std: number[] };
  readonly rng: Rng;
  readonly learned: number;
  emit<K extends ObserverEvent>(event: K, info: EventInfo<K>): Promise<void>;
  stopRequested(): boolean;
  setPosition(position: TrainingPosition | undefined): void;
  /** Mid-task checkpoints (absent when the run writes none): `due()` is checked at every batch boundary, `step()` after every step. */
  checkpoint?: { due(): boolean; step(): void; save(loop: LoopState): Promise<void> };
}

interface PendingStep {
  batch: number;
  count: number;
  loss: tf.Tensor;
  correct: tf.Tensor;
  at: number;
}

/**
 * Trains one phase of one task: batches in a seeded order, the phase kind's session deciding
 * variables, forward context, gradients and per-step work. Losses and accuracies stay on the
 * device and are read (asynchronously) once per YIELD_INTERVAL_MS and at the end of each epoch,
 * when the loop also yields to the event loop (timers and progress bars run); afterBatch events
 * are delivered then, in order.
 */
export async function trainPhase(host: PhaseHost, task: Task, index: number, phase: PhaseSpec, kind: PhaseKind, resume?: ResumePoint): Promise<PhaseRecord> {
  const t = task.index;
  const n = task.train.n;
  const batchesPerEpoch = Math.ceil(n / phase.batch_size);
  const info: PhaseInfo = { task, phase, index, batchesPerEpoch };
  await host.emit('beforePhase', info);
  const optimizer = createOptimizer(phase);
  const shuffleRng = host.rng.child(`shuffle/${t}/${phase.name}`);
  const augmentation = host.config.augmentation;
  const augment = isIdentityAugmentation(augmentation)
    ? undefined
    : { rng: host.rng.child(`augment/${t}/${phase.name}`), options: { ...augmentation, fill: augmentationFill(host.normalization) } };
  let steps = 0;
  let seconds = 0;
  let lastLoss: number | null = null;
  let lastAccuracy: number | null = null;
  const epochAccuracy: number[] = [];
  const position: TrainingPosition = { task: t, phase: index, phaseName: phase.name, epoch: 0, batch: 0, rng: { shuffle: shuffleRng.getState() }, optimizer };
  let session: Awaited<ReturnType<PhaseKind['begin']>> | undefined;
  const pending: PendingStep[] = [];
  try {
    session = await kind.begin({
      task,
      index,
      spec: phase,
      backbone: host.backbone,
      ownership: host.ownership,
      strategy: host.strategyId,
      learned: host.learned,
      checkProtectedWeights: host.config.debug.check_protected_weights,
      rng: host.rng.child(`phase/${t}/${index}`),
    });
    const variables = session.variables as tf.Variable[];
    // A mid-task checkpoint of this phase: continue at its epoch and batch with its state.
    const from = resume?.position;
    if (resume && from) {
      await resumeLoop(resume, optimizer, session);
      shuffleRng.setState(from.rng.shuffle);
      if (augment && from.rng.augment) augment.rng.setState(from.rng.augment);
      ({ steps, seconds, final_loss: lastLoss, train_accuracy: lastAccuracy } = { steps: from.steps, ...from.phase_progress });
      epochAccuracy.push(...from.phase_progress.epoch_accuracy);
    }
    host.setPosition(position);
    for (let epoch = from?.epoch ?? 0; epoch < phase.epochs; epoch++) {
      const lr = learningRateAt(phase, epoch);
      setLearningRate(optimizer, lr);
      position.epoch = epoch;
      position.batch = 0;
      position.rng.shuffle = shuffleRng.getState();
      await host.emit('beforeEpoch', { ...info, epoch });
      const order = shuffleRng.permutation(n);
      const partial = from && epoch === from.epoch ? from.epoch_totals : undefined;
      const epochStart = performance.now() - (partial?.seconds ?? 0) * 1000;
      let lastRead = performance.now();
      const totals = { loss: partial?.loss ?? 0, correct: partial?.correct ?? 0, seen: partial?.seen ?? 0 };
      // Reads the pending steps' losses and accuracies in one transfer and delivers afterBatch.
      const drain = async () => {
        if (pending.length === 0) return;
        const steps = pending.splice(0);
        const packed = tf.tidy(() => tf.concat([tf.stack(steps.map((s) => s.loss)), tf.stack(steps.map((s) => s.correct)).cast('float32')]));
        tf.dispose(steps.flatMap((s) => [s.loss, s.correct]));
        const values = (await packed.data()) as Float32Array;
        packed.dispose();
        for (const [i, s] of steps.entries()) {
          const loss = values[i]!;
          totals.seen += s.count;
          totals.loss += loss * s.count;
          totals.correct += values[steps.length + i]!;
          lastLoss = loss;
          const elapsed = (s.at - epochStart) / 1000;
          await host.emit('afterBatch', { ...info, epoch, batch: s.batch, loss, trainAccuracy: totals.correct / totals.seen, samplesPerSecond: totals.seen / Math.max(elapsed, 1e-9) });
        }
      };
      for (let b = partial ? from!.batch : 0; b < batchesPerEpoch; b++) {
        position.batch = b;
        if (augment) position.rng.augment = augment.rng.getState();
        const stop = host.stopRequested();
        if (host.checkpoint && (stop || host.checkpoint.due())) {
          await drain();
          await host.checkpoint.save({
            task: t,
            phase: index,
            phase_name: phase.name,
            epoch,
            batch: b,
            steps,
            rng: { ...position.rng },
            epoch_totals: { ...totals, seconds: (performance.now() - epochStart) / 1000 },
            phase_progress: { seconds, final_loss: lastLoss, train_accuracy: lastAccuracy, epoch_accuracy: [...epochAccuracy] },
            optimizer,
            variables,
            session,
          });
        }
        if (stop) {
          await drain();
          throw new StopRequested({ task: t, phase: phase.name, epoch, batch: b });
        }
        const start = b * phase.batch_size;
        const end = Math.min(n, start + phase.batch_size);
        await host.emit('beforeBatch', { ...info, epoch, batch: b });
        const current = session;
        const { loss, correct } = tf.tidy(() => {
          const { x, y } = gatherBatch(task.train, order, start, end, task.inputShape, augment);
          const ctx = current.context();
          let ok: tf.Tensor | undefined;
          const { value, grads } = tf.variableGrads(() => {
            const logits = host.backbone.forward(x, ctx);
            ok = tf.keep(classLogits(logits, host.numClasses).argMax(1).equal(y).sum());
            // Over every output: superfluous outputs are pushed down like wrong classes.
            return tf.losses.softmaxCrossEntropy(tf.oneHot(y, logits.shape[1]), logits) as tf.Scalar;
          }, variables);
          optimizer.applyGradients(current.transformGradients ? current.transformGradients(grads) : grads);
          return { loss: value, correct: ok! };
        });
        pending.push({ batch: b, count: end - start, loss, correct, at: performance.now() });
        steps++;
        host.checkpoint?.step();
        await session.afterStep?.({ epoch, batch: b });
        if (performance.now() - lastRead >= YIELD_INTERVAL_MS) {
          await drain();
          await yieldToEventLoop();
          lastRead = performance.now();
        }
      }
      await drain();
      await yieldToEventLoop();
      const epochSeconds = (performance.now() - epochStart) / 1000;
      seconds += epochSeconds;
      lastAccuracy = totals.seen > 0 ? totals.correct / totals.seen : null;
      const testAccuracy = host.config.evaluation.each_epoch ? await evaluateTask(host.backbone, task, host.numClasses, host.config.evaluation.batch_size) : undefined;
      if (testAccuracy !== undefined) epochAccuracy.push(testAccuracy);
      await host.emit('afterEpoch', {
        ...(testAccuracy !== undefined ? { testAccuracy } : {}),
        ...info,
        epoch,
        loss: totals.seen > 0 ? totals.loss / totals.seen : NaN,
        trainAccuracy: lastAccuracy ?? NaN,
        samplesPerSecond: totals.seen / Math.max(epochSeconds, 1e-9),
        lr,
      });
    }
    await session.end?.();
  } finally {
    host.setPosition(undefined);
    tf.dispose(pending.flatMap((s) => [s.loss, s.correct]));
    optimizer.dispose();
    session?.dispose?.();
  }
  const samplesPerSecond = seconds > 0 ? (steps > 0 ? (n * phase.epochs) / seconds : 0) : 0;
  await host.emit('afterPhase', { ...info, seconds, samplesPerSecond });
  return {
    name: phase.name,
    epochs: phase.epochs,
    optimizer: phase.optimizer,
    lr: phase.lr,
    schedule: phase.schedule,
    batch_size: phase.batch_size,
    steps,
    seconds,
    samples_per_second: samplesPerSecond,
    final_loss: lastLoss,
    train_accuracy: lastAccuracy,
    ...(host.config.evaluation.each_epoch ? { epoch_accuracy: epochAccuracy } : {}),
  };
}
