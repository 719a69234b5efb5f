/**
 * Browser entry of @supermask/core (`@supermask/core/browser`): everything a page needs to
 * configure, train and evaluate a run, without the Node-only modules (plugin loading from
 * node_modules, config files, atomic file writes, checkpoints on disk, model export, safetensors
 * files, run-directory locks, the Node version record). No module reached from here imports a
 * Node built-in: the run directory (results, checkpoints, metrics.csv, events.jsonl) is written
 * through RunFiles, which only the Node entry installs. `npm run check:browser` fails on any
 * Node built-in reached from here.
 */
import 'reflect-metadata';

export * from './augment.js';
export * from './backend.js';
export * from './webgpu.js';
export * from './device-masks.js';
export * from './bitpack.js';
export * from './builtin-observers.js';
export * from './builtins.js';
export * from './checkpoint.js';
export * from './compose.js';
export * from './config.js';
export * from './contexts.js';
export * from './contracts.js';
export * from './data.js';
export * from './density.js';
export * from './errors.js';
export * from './evaluation.js';
export * from './float16.js';
export * from './init.js';
export * from './layers/batch-norm.js';
export * from './layers/masked-conv1d.js';
export * from './layers/masked-conv2d.js';
export * from './layers/masked-dense.js';
export * from './layers/masked-layer.js';
export * from './layers/straight-through.js';
export * from './metrics.js';
export * from './mid-task.js';
export * from './observer.js';
export * from './ownership.js';
export * from './phase-kind.js';
export * from './phases.js';
export * from './registry.js';
export * from './results.js';
export * from './rng.js';
export * from './run-files.js';
export * from './runner.js';
export * from './safetensors.js';
export * from './select.js';
export * from './slots.js';
export * from './state.js';
export * from './task-mask.js';
export * from './tokens.js';
export * from './training.js';
export * from './versions.js';
export * from './config-input.js';
export * from './layers/conv-bn.js';
