/**
 * Node entry of @supermask/core: everything of the browser entry, plus the Node-only modules
 * (config files, atomic file writes, checkpoints and safetensors files on disk, model export,
 * plugin loading from node_modules, the Node version record).
 */
export * from './browser.js';
import './versions-node.js';
export * from './checkpoint.js';
export * from './config-file.js';
export * from './export.js';
export * from './files.js';
export * from './plugins.js';
export * from './safetensors-file.js';
