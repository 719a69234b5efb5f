import { register as registerMlp } from '@supermask/backbone-mlp';
import { register as registerBert } from '@supermask/backbone-bert';
import { register as registerResNet } from '@supermask/backbone-resnet';
import { Registry, registerCoreComponents, registerLoggerObservers } from '@supermask/core';
import { register as registerDatasets } from '@supermask/datasets';
import { register as registerKkt } from '@supermask/kkt';
import { register as registerExSSNeT } from '@supermask/strategy-exssnet';
import { register as registerPackNet } from '@supermask/strategy-packnet';
import { register as registerSupSup } from '@supermask/strategy-supsup';
import { register as registerWSN } from '@supermask/strategy-wsn';

/** A registry with every component of the built-in packages. */
export function createRegistry(): Registry {
  const registry = new Registry();
  registerCoreComponents(registry);
  registerLoggerObservers(registry);
  registerDatasets(registry);
  registerMlp(registry);
  registerResNet(registry);
  registerBert(registry);
  registerSupSup(registry);
  registerExSSNeT(registry);
  registerWSN(registry);
  registerPackNet(registry);
  registerKkt(registry);
  return registry;
}
