import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';

let cached: Record<string, string> | undefined;

/** The version of @supermask/core (from its package.json). */
export function coreVersion(): string {
  return ownVersion();
}

function ownVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

/** Versions recorded in results.json: node, @supermask/core, tfjs. */
export function versions(): Record<string, string> {
  cached ??= {
    node: process.version,
    '@supermask/core': ownVersion(),
    '@tensorflow/tfjs': tf.version.tfjs,
  };
  return { ...cached };
}
