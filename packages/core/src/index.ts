/**
 * Node entry of @supermask/core: everything of the browser entry, plus the Node-only modules
 * (config files, atomic file writes, checkpoints and safetensors files on disk, model export,
 * plugin loading from node_modules, run-directory locks, the Node version record) and the
 * run-directory file access they install (run-files-node.ts).
 */
export * from './browser.js';
import './versions-node.js';
import './run-files-node.js';
export * from './checkpoint-file.js';
export * from './config-file.js';
export * from './export.js';
export * from './files.js';
export * from './plugins.js';
export * from './run-dir.js';
export * from './safetensors-file.js';
export * from './tensorboard.js';
export * from './logger-observers.js';
