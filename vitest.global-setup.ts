import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** CLI tests spawn the built `supermask` binary: build the workspace once before the tests. */
export default function setup(): void {
  const root = fileURLToPath(new URL('.', import.meta.url));
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-b', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}
