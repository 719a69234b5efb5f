import { Registry, registerCoreComponents } from '@supermask/core/browser';
import { registerBrowser as registerDatasets } from '@supermask/datasets/browser';
import { register as registerMlp } from '@supermask/backbone-mlp';
import { register as registerResNet } from '@supermask/backbone-resnet';
import { register as registerSupSup } from '@supermask/strategy-supsup';
import { register as registerExSSNeT } from '@supermask/strategy-exssnet';
import { register as registerWsn } from '@supermask/strategy-wsn';
import { register as registerKkt } from '@supermask/kkt';

/**
 * The page's component registry: the CLI's components that run in a browser (core, the streams,
 * LeNet and the ResNets, SupSup, ExSSNeT, WSN, KKT) with the same ids and option schemas, and the
 * `fashion-mnist` dataset fetched from `embeddedUrl` (the embedded subset, served with the page).
 */
export function createPageRegistry(embeddedUrl: string): Registry {
  const registry = new Registry();
  registerCoreComponents(registry);
  registerDatasets(registry, { embeddedUrl });
  registerMlp(registry);
  registerResNet(registry);
  registerSupSup(registry);
  registerExSSNeT(registry);
  registerWsn(registry);
  registerKkt(registry);
  return registry;
}
