// examples/strategy-head-tuning/test/head-tuning.test.ts
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createRegistry } from '@supermask/cli';
import { Experiment, loadConfig, type Observer } from '@supermask/core';
import { register } from '../src/index.js';

const here = fileURLToPath(new URL('..', import.meta.url));
const bin = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));

describe('the head-tuning strategy', () => {
  it('runs from a config that loads it as a plugin, trains both phases and forgets nothing', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'head-tuning-')), 'run');
    const r = spawnSync(process.execPath, [bin, 'run', '--config', join(here, 'config.json'), '--out', out], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.status).toBe(0);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.tasks[0].phases.map((p: { name: string }) => p.name)).toEqual(['mask', 'head-weights']);
    expect(results.forgetting).toBe(0);
    for (let j = 0; j < 3; j++) expect(results.accuracy_matrix[2][j]).toBeGreaterThan(0.7);
  });

  it("changes only the task's free weights of the last layer in the head-weights phase", async () => {
    const registry = createRegistry();
    register(registry);
    const config = loadConfig(join(here, 'config.json'), registry, { backend: 'cpu' });
    // Per head-weights phase and layer: weights that moved, and those of them an earlier task uses.
    const moved: { moved: number; used: number }[][] = [];
    let before: Float32Array[] = [];
    const probe: Observer = {
      id: 'probe',
      beforePhase: (_info, run) => void (before = run.backbone.layers.map((l) => Float32Array.from(l.weight.dataSync()))),
      afterPhase: (info, run) => {
        if (info.phase.name !== 'head-weights') return;
        const earlier = Array.from({ length: info.task.index }, (_, j) => run.masks(j));
        moved.push(
          run.backbone.layers.map((l, li) => {
            const now = l.weight.dataSync();
            const changed = [...now.keys()].filter((i) => now[i] !== before[li]![i]);
            return { moved: changed.length, used: changed.filter((i) => earlier.some((m) => m[li]![i] !== 0)).length };
          }),
        );
      },
    };
    const experiment = await Experiment.create({ config, registry, observers: [probe] });
    try {
      await experiment.run();
    } finally {
      experiment.dispose();
    }
    expect(moved).toHaveLength(3);
    for (const layers of moved) {
      expect(layers.slice(0, -1).map((l) => l.moved)).toEqual([0, 0]);
      expect(layers.at(-1)!.moved).toBeGreaterThan(0);
      expect(layers.at(-1)!.used).toBe(0);
    }
  });
});
