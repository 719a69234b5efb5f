import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint, writeCheckpoint } from './checkpoint-file.js';
import { writeFileAtomic } from './files.js';
import { installRunFiles } from './run-files.js';

// Node's entry (index.ts) installs the run-directory file access once, at load.
installRunFiles({
  append(dir, name, text) {
    mkdirSync(dir, { recursive: true });
    appendFileSync(join(dir, name), text);
  },
  exists: (dir, name) => existsSync(join(dir, name)),
  read: (dir, name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : undefined),
  write: (dir, name, data) => writeFileAtomic(join(dir, name), data),
  readCheckpoint,
  writeCheckpoint,
});
