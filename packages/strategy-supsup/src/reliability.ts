/** A task inference's measured task-id accuracy for one strategy and where it was measured (read by `supermask eval`). */
export interface MeasuredReliability {
  task_id_accuracy: number;
  measured: string;
}

const SETTING = 'npm run bench:task-inference: Permuted Fashion-MNIST, 10 tasks, LeNet, density 0.1, all 60,000 training images per task, 90 superfluous outputs, seed 0';

/**
 * Task-id accuracy of the gradient methods where they are known to fail: with ExSSNeT the trained
 * weights sharpen every mask's outputs, and the entropy gradient of the superposition prefers the
 * wrong masks. A test compares these figures with bench/results/task-inference.json when that file
 * holds the same setting.
 */
export const MEASURED_RELIABILITY: Readonly<Record<'oneshot' | 'binary', Readonly<Record<string, MeasuredReliability>>>> = {
  oneshot: { exssnet: { task_id_accuracy: 0.004, measured: SETTING } },
  binary: { exssnet: { task_id_accuracy: 0.47, measured: SETTING } },
};
