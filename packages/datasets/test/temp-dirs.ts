import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** A temporary root for one test file (removed after it) and a maker of fresh directories in it. */
export function tempDirs(prefix: string): { root: string; freshDir: (name: string) => string } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let counter = 0;
  const freshDir = (name: string) => {
    const dir = join(root, `${name}-${counter++}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  return { root, freshDir };
}
