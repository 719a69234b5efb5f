export { main, cliVersion, BACKEND_NAMES, type CliIo } from './main.js';
export { createRegistry } from './registry.js';
export { JsonLinesLogger, ProgressReporter } from './progress.js';
export { formatAccuracyMatrix, formatTaskInference } from './format.js';
export { configReferenceMarkdown } from './reference.js';
