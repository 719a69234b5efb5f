import type { ExperimentResults } from '@supermask/core/browser';

/** Backends the page offers; `auto` takes the first that works of webgpu, webgl, cpu. */
export const PAGE_BACKENDS = ['auto', 'webgpu', 'webgl', 'cpu'] as const;
export type PageBackend = (typeof PAGE_BACKENDS)[number];

/** Page -> worker. */
/** `dataUrl`: the folder the page serves the embedded Fashion-MNIST subset from. */
export type ToWorker = { type: 'run'; config: unknown; backend: PageBackend; dataUrl: string };

/** Worker -> page. */
export type FromWorker =
  | { type: 'invalid'; message: string }
  | { type: 'started'; backend: string; notes: string[]; config: unknown; tasks: { name: string; classes: number[] }[] }
  | { type: 'progress'; task: number; tasks: number; phase: string; epoch: number; epochs: number; batch: number; batches: number; loss: number; trainAccuracy: number }
  | { type: 'results'; results: ExperimentResults; final: boolean }
  | { type: 'masks'; bytes: Uint8Array }
  | { type: 'error'; message: string };
