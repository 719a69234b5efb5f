import { register as registerMlp } from '@supermask/backbone-mlp';
import { Registry, registerCoreComponents } from '@supermask/core';
import { register as registerDatasets } from '@supermask/datasets';
import { register as registerSupSup } from '@supermask/strategy-supsup';

/** A registry with every component of the built-in packages. */
export function createRegistry(): Registry {
  const registry = new Registry();
  registerCoreComponents(registry);
  registerDatasets(registry);
  registerMlp(registry);
  registerSupSup(registry);
  return registry;
}
