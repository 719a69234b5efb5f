#!/usr/bin/env node
// The `supermask` command. Committed (not built) so that npm links it when the workspace is
// installed, before the TypeScript build has written dist/; it loads the built CLI.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(fileURLToPath(built))) {
  process.stderr.write(
    `supermask is not built yet (${fileURLToPath(built)} is missing).\n` +
      'Run `npm run build` in the repository root (or `npm install`, which builds it), then try again.\n',
  );
  process.exit(1);
}
await import(built.href);
