export { main, type CliIo } from './main.js';
export { createRegistry } from './registry.js';
export { ProgressReporter } from './progress.js';
export { formatAccuracyMatrix } from './format.js';
