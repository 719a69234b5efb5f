import * as tf from '@tensorflow/tfjs-core';

/**
 * Versions recorded in results.json. The runtime part (node and @supermask/core from its
 * package.json under Node, the browser's user agent in a page) is set by the entry point that
 * loads core: index.ts through versions-node.ts, the browser entry by its host page.
 */
const runtime: Record<string, string> = {};

/** Sets (or adds to) the runtime versions, e.g. `{ node: process.version, '@supermask/core': '0.1.0' }`. */
export function setRuntimeVersions(values: Record<string, string>): void {
  Object.assign(runtime, values);
}

/** The version of @supermask/core (from its package.json), 'unknown' when the entry point did not set it. */
export function coreVersion(): string {
  return runtime['@supermask/core'] ?? 'unknown';
}

/** Versions recorded in results.json: the runtime (node or browser), @supermask/core, tfjs-core. */
export function versions(): Record<string, string> {
  return { ...runtime, '@supermask/core': coreVersion(), '@tensorflow/tfjs-core': tf.version_core };
}
