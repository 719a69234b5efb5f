/**
 * Browser entry of @supermask/core (`@supermask/core/browser`): everything a page needs to
 * configure, train and evaluate a run, without the Node-only modules (plugin loading from
 * node_modules, config files, atomic file writes, checkpoints on disk, model export, safetensors
 * files, the Node version record). `npm run check:browser` fails when a module reached from here
 * imports a Node built-in other than the ones listed in packages/web/node-imports.json (the
 * runner's file output, until it moves out of the training loop).
 */
import 'reflect-metadata';

export * from './augment.js';
export * from './backend.js';
export * from './bitpack.js';
export * from './builtins.js';
export * from './config.js';
export * from './contracts.js';
export * from './data.js';
export * from './density.js';
export * from './errors.js';
export * from './float16.js';
export * from './init.js';
export * from './layers/batch-norm.js';
export * from './layers/masked-conv1d.js';
export * from './layers/masked-conv2d.js';
export * from './layers/masked-dense.js';
export * from './layers/masked-layer.js';
export * from './layers/straight-through.js';
export * from './metrics.js';
export * from './ownership.js';
export * from './phases.js';
export * from './registry.js';
export * from './rng.js';
export * from './safetensors.js';
export * from './runner.js';
export * from './select.js';
export * from './tokens.js';
export * from './versions.js';
