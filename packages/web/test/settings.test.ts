import { describe, expect, it } from 'vitest';
import { createRegistry } from '@supermask/cli';
import { ConfigError, resolveConfig } from '@supermask/core';
import { createPageRegistry } from '../src/registry.js';
import { BACKBONES, DEFAULT_SETTINGS, pageConfig, STRATEGIES, STREAMS, TASK_INFERENCE } from '../src/settings.js';

describe("the page's settings", () => {
  const page = createPageRegistry('http://page.test/data/');
  const cli = createRegistry();

  it('make, for every stream, strategy, backbone and task inference, a config that the page and the CLI resolve alike', () => {
    for (const stream of STREAMS)
      for (const strategy of STRATEGIES)
        for (const backbone of BACKBONES)
          for (const taskInference of TASK_INFERENCE) {
            const raw = pageConfig({ ...DEFAULT_SETTINGS, stream, strategy, backbone, taskInference, kkt: strategy === 'exssnet', trainPerTask: 100 });
            const resolved = resolveConfig(raw, page);
            expect(resolved, `${stream} ${strategy} ${backbone} ${taskInference}`).toEqual(resolveConfig(raw, cli));
            expect(resolved.strategy.id).toBe(strategy);
            expect(resolved.backbone.id).toBe(backbone);
          }
  });

  it('are rejected by the same schemas as the CLI, naming the field', () => {
    for (const [change, field] of [
      [{ density: 2 }, 'mask_scorer.options.density'],
      [{ tasks: 0 }, 'stream.options.tasks'],
      [{ epochs: 1.5 }, 'strategy.options.mask_phase.epochs'],
    ] as const) {
      const raw = pageConfig({ ...DEFAULT_SETTINGS, ...change });
      for (const registry of [page, cli]) {
        const error = (() => {
          try {
            resolveConfig(raw, registry);
          } catch (e) {
            return e;
          }
        })();
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).message).toContain(field);
      }
    }
  });
});
