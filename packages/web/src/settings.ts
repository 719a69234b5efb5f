/**
 * What the page's form holds, and the config it makes of it: the same config file format the CLI
 * reads (`supermask run --config`), validated in the worker by core's resolveConfig against the
 * same JSON Schemas.
 */
export const STREAMS = ['split', 'permuted', 'rotated'] as const;
export const STRATEGIES = ['supsup', 'exssnet', 'wsn'] as const;
export const BACKBONES = ['lenet', 'resnet18'] as const;
export const TASK_INFERENCE = ['oracle', 'exhaustive', 'oneshot', 'binary'] as const;

export interface PageSettings {
  name: string;
  seed: number;
  stream: (typeof STREAMS)[number];
  tasks: number;
  /** Classes of each task (split stream). */
  classesPerTask: number;
  /** Training / test examples per task (empty: all of the embedded subset's). */
  trainPerTask?: number;
  testPerTask?: number;
  strategy: (typeof STRATEGIES)[number];
  backbone: (typeof BACKBONES)[number];
  /** ResNet-18 base width. */
  resnetWidth: number;
  density: number;
  /** Mask-phase epochs (WSN: epochs of its one phase) and weight-phase epochs (ExSSNeT). */
  epochs: number;
  weightEpochs: number;
  lr: number;
  batchSize: number;
  taskInference: (typeof TASK_INFERENCE)[number];
  /** k-NN knowledge transfer (KKT) before each task's mask phase. */
  kkt: boolean;
}

export const DEFAULT_SETTINGS: PageSettings = {
  name: 'web-split-fmnist',
  seed: 0,
  stream: 'split',
  tasks: 5,
  classesPerTask: 2,
  strategy: 'supsup',
  backbone: 'lenet',
  resnetWidth: 8,
  density: 0.1,
  epochs: 1,
  weightEpochs: 1,
  lr: 0.01,
  batchSize: 64,
  taskInference: 'exhaustive',
  kkt: false,
};

/** The config (CLI file format) for the form's settings; resolveConfig validates it. */
export function pageConfig(s: PageSettings): Record<string, unknown> {
  const phase = (epochs: number) => ({ epochs, optimizer: 'adam', lr: s.lr, batch_size: s.batchSize });
  const subset = {
    ...(s.trainPerTask !== undefined ? { train_per_task: s.trainPerTask } : {}),
    ...(s.testPerTask !== undefined ? { test_per_task: s.testPerTask } : {}),
  };
  const init = s.strategy === 'wsn' ? { weight_init: 'kaiming_normal' } : {};
  const stream =
    s.stream === 'split'
      ? { id: 'split', options: { tasks: s.tasks, classes_per_task: s.classesPerTask, ...subset } }
      : { id: s.stream, options: { tasks: s.tasks, ...subset } };
  return {
    name: s.name,
    seed: s.seed,
    dataset: { id: 'fashion-mnist', options: { source: 'embedded' } },
    stream,
    // WSN learns its weights from a standard init (configs/split-fmnist-wsn.json does the same).
    backbone:
      s.backbone === 'lenet'
        ? { id: 'lenet', options: { hidden: [300, 100], ...init } }
        : { id: 'resnet18', options: { nf: s.resnetWidth, ...init } },
    strategy:
      s.strategy === 'supsup'
        ? { id: 'supsup', options: { mask_phase: phase(s.epochs) } }
        : s.strategy === 'wsn'
          ? { id: 'wsn', options: { phase: phase(s.epochs) } }
          : { id: 'exssnet', options: { mask_phase: phase(s.epochs), weight_phase: phase(s.weightEpochs) } },
    mask_scorer: { id: 'topk', options: { density: s.density } },
    ...(s.kkt ? { knowledge_transfer: { id: 'kkt' } } : {}),
    task_inference: { id: s.taskInference },
  };
}
