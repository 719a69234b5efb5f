import { readFileSync } from 'node:fs';
import { setRuntimeVersions } from './versions.js';

function ownVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

// Node's entry (index.ts) records the Node version and core's own version once, at load.
setRuntimeVersions({ node: process.version, '@supermask/core': ownVersion() });
