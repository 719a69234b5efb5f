import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * The README's first command on a fresh clone: `npm install` alone (its `prepare` script builds
 * the workspace) must leave a working `npx supermask`. The clone is of the committed HEAD; the
 * packages come from the local npm cache when it has them (--offline), else from the registry.
 */
describe('a fresh clone', () => {
  it('runs `npx supermask --version` and `npx supermask list` right after `npm install`', () => {
    const dir = mkdtempSync(join(tmpdir(), 'supermask-clone-'));
    try {
      execFileSync('git', ['clone', '--quiet', '--no-hardlinks', root, dir], { stdio: 'pipe' });
      const env = { ...process.env, npm_config_update_notifier: 'false' };
      let install = spawnSync(npm, ['install', '--offline', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8', env });
      if (install.status !== 0) install = spawnSync(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8', env });
      expect(install.status, install.stderr).toBe(0);
      expect(existsSync(join(dir, 'node_modules', '.bin', 'supermask'))).toBe(true);

      const version = spawnSync(npm, ['exec', '--offline', '--', 'supermask', '--version'], { cwd: dir, encoding: 'utf8', env });
      expect(version.status, version.stderr).toBe(0);
      expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
      const list = spawnSync('npx', ['--offline', 'supermask', 'list'], { cwd: dir, encoding: 'utf8', env });
      expect(list.status, list.stderr).toBe(0);
      for (const id of ['fashion-mnist', 'lenet', 'supsup', 'exssnet']) expect(list.stdout).toContain(id);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 420_000);
});
