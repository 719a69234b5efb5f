import { TOKENS, type BackboneSpec, type Registry, type Rng } from '@supermask/core';
import { LeNet, LENET_SCHEMA, type LeNetOptions } from './lenet.js';

export * from './lenet.js';

const PACKAGE = '@supermask/backbone-mlp';

/** Registers the `lenet` backbone. */
export function register(registry: Registry): void {
  registry.register<LeNet, LeNetOptions>({
    kind: 'backbone',
    id: 'lenet',
    description: 'Fully connected LeNet (784-300-100-C by default), bias-free masked dense layers, ReLU',
    package: PACKAGE,
    schema: LENET_SCHEMA,
    create: (options, c) =>
      new LeNet(c.resolve<BackboneSpec>(TOKENS.BackboneSpec), options, c.resolve<Rng>(TOKENS.Rng).child('backbone')),
  });
}

export const plugin = { name: PACKAGE, register };
