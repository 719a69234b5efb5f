export * from './sweep-file.js';
export * from './run-point.js';
export * from './state.js';
export * from './plan.js';
export { runLocalSweep, poolSize, type LocalSweepOptions, type PointRunOptions } from './local.js';
export * from './queue.js';
