import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { createRegistry } from '@supermask/cli';
import { ConfigError, resolveConfig, type ResolvedConfig } from '@supermask/core';
import { checkSweep, expandSweep, readSweepFile } from '@supermask/sweep';
import { removeDir, tempDir, tinyConfig, writeJson } from './helpers.js';

const dir = tempDir();
afterAll(() => removeDir(dir));

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    return (error as ConfigError).problems.length > 0 ? (error as ConfigError).problems : [(error as Error).message];
  }
  throw new Error('expected a ConfigError');
}

describe('sweep files', () => {
  it('expands grid x zip x seeds over dotted paths, the base read from a path relative to the sweep file', () => {
    writeJson(join(dir, 'base.json'), tinyConfig());
    const file = join(dir, 'grid.yaml');
    writeFileSync(
      file,
      [
        'base: base.json',
        'set: { stream.options.tasks: 2 }',
        'grid:',
        '  mask_scorer.options.density: [0.05, 0.1]',
        'zip:',
        '  strategy: [{ id: supsup }, { id: exssnet }]',
        'seeds: [3, 4]',
      ].join('\n'),
    );
    const spec = readSweepFile(file);
    expect(spec.name).toBe('grid');
    expect(spec.retry).toEqual({ attempts: 3, backoff_seconds: 5 });
    const points = expandSweep(spec, file);
    expect(points.map((p) => p.id)).toEqual([
      'density=0.05_strategy=supsup_seed=3',
      'density=0.05_strategy=supsup_seed=4',
      'density=0.05_strategy=exssnet_seed=3',
      'density=0.05_strategy=exssnet_seed=4',
      'density=0.1_strategy=supsup_seed=3',
      'density=0.1_strategy=supsup_seed=4',
      'density=0.1_strategy=exssnet_seed=3',
      'density=0.1_strategy=exssnet_seed=4',
    ]);
    const p = points[6]!;
    expect(p.configuration).toBe('density=0.1_strategy=exssnet');
    expect(p.seed).toBe(3);
    expect(p.config.seed).toBe(3);
    expect((p.config.mask_scorer as { options: { density: number } }).options.density).toBe(0.1);
    expect(p.config.strategy).toEqual({ id: 'exssnet' });
    expect((p.config.stream as { options: { tasks: number; train_per_task: number } }).options).toMatchObject({ tasks: 2, train_per_task: 200 });
    expect(p.labels).toEqual({ 'mask_scorer.options.density': '0.1', strategy: 'exssnet' });
  });

  it('pairs zip lists and tells components with the same id apart by a hash', () => {
    const points = expandSweep(
      checkSweep({
        name: 'z',
        base: tinyConfig(),
        zip: { strategy: [{ id: 'supsup', options: { mask_phase: { lr: 0.01 } } }, { id: 'supsup', options: { mask_phase: { lr: 0.1 } } }], 'mask_scorer.options.density': [0.1, 0.2] },
      }),
    );
    expect(points).toHaveLength(2);
    expect(points[0]!.id).toMatch(/^strategy=supsup-[0-9a-f]{6}_density=0\.1_seed=0$/);
    expect(points[1]!.id).toMatch(/^strategy=supsup-[0-9a-f]{6}_density=0\.2_seed=0$/);
    expect(points[0]!.id).not.toBe(points[1]!.id.replace('0.2', '0.1'));
  });

  it('names the field at fault', () => {
    expect(problemsOf(() => checkSweep({ base: {}, grid: { 'mask_scorer.options.density': 0.1 } }))).toEqual(['grid["mask_scorer.options.density"]: must be array']);
    expect(problemsOf(() => checkSweep({ base: {}, grids: {} }))).toEqual(['grids: is not a known field']);
    expect(problemsOf(() => checkSweep({ grid: {} }))).toEqual(['base: must have required property \'base\'']);
    expect(problemsOf(() => checkSweep({ base: {}, seeds: [1, -1] }))).toEqual(['seeds[1]: must be >= 0']);
    expect(problemsOf(() => checkSweep({ base: {}, zip: { a: [1, 2], b: [1] } }))[0]).toMatch(/^zip\["b"\]: has 1 values, expected 2/);
    expect(problemsOf(() => checkSweep({ base: {}, grid: { seed: [1, 2] } }))[0]).toMatch(/^grid\.seed: the seed is not an axis/);
    expect(problemsOf(() => checkSweep({ base: {}, set: { strategy: {} }, grid: { 'strategy.id': ['supsup'] } }))[0]).toMatch(/^grid\["strategy\.id"\]: overlaps set\["strategy"\]/);
    expect(problemsOf(() => checkSweep({ base: {}, grid: { 'bad path!': [1] } }))[0]).toMatch(/^grid\["bad path!"\]: is not a dotted config path/);
    expect(problemsOf(() => expandSweep(checkSweep({ base: { seed: 5 }, grid: { 'seed.x': [1] } })))[0]).toMatch(/cannot set seed\.x: seed in the base config is 5/);
    expect(problemsOf(() => readSweepFile(join(dir, 'missing.yaml')))[0]).toMatch(/cannot read sweep file .*missing\.yaml: no such file/);
  });

  it('configs/sweeps/density.yaml is the density benchmark: SupSup and ExSSNeT at 0.02, 0.05, 0.1 over seeds 0-2, every point a valid config', () => {
    const file = fileURLToPath(new URL('../../../configs/sweeps/density.yaml', import.meta.url));
    const points = expandSweep(readSweepFile(file), file);
    expect(points).toHaveLength(18);
    const registry = createRegistry();
    const seen = new Set<string>();
    for (const p of points) {
      const c = resolveConfig(p.config, registry, { file }) as ResolvedConfig & Record<string, any>;
      seen.add(`${c.strategy.id} ${c.mask_scorer.options.density} ${c.seed}`);
      expect(c.stream.options).toMatchObject({ tasks: 5, classes_per_task: 2, class_order: { seed: 1 } });
      expect(c.dataset).toMatchObject({ id: 'fashion-mnist', options: { source: 'full' } });
      expect(c.backbone.options.hidden).toEqual([300, 100]);
      const supsup = c.strategy.id === 'supsup';
      expect(c.strategy.options.mask_phase).toMatchObject({ epochs: 2, lr: supsup ? 0.01 : 0.001 });
      expect(c.ownership_policy.id).toBe(supsup ? 'frozen' : 'exclusive');
      if (!supsup) expect(c.strategy.options.weight_phase).toMatchObject({ epochs: 2, lr: 0.001 });
    }
    expect(seen.size).toBe(18);
    expect([...seen].filter((k) => k.startsWith('exssnet 0.05 ')).sort()).toEqual(['exssnet 0.05 0', 'exssnet 0.05 1', 'exssnet 0.05 2']);
  });
});
