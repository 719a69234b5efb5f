import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, readConfigFile } from '@supermask/core';

describe('readConfigFile', () => {
  it('reads YAML, and refuses an unknown !tag (a typo read as a string otherwise) naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'supermask-config-'));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'name: x\nseed: 3\nbackbone:\n  id: lenet\n');
    expect(readConfigFile(good)).toEqual({ name: 'x', seed: 3, backbone: { id: 'lenet' } });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: x\nstrategy:\n  options:\n   !epochs: 1\n');
    expect(() => readConfigFile(bad)).toThrow(ConfigError);
    expect(() => readConfigFile(bad)).toThrow(new RegExp(`config file ${bad} is not valid YAML: Unresolved tag: !epochs`));
    const bomb = join(dir, 'aliases.yaml');
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
    writeFileSync(bomb, `${lines.join('\n')}\n`);
    expect(() => readConfigFile(bomb)).toThrow(/is not valid YAML: .*alias/i);
  });
});
