import { TOKENS, type BackboneSpec, type Registry, type Rng } from '@supermask/core';
import { ResNet, resnetSchema, type ResNetOptions } from './resnet.js';

export * from './resnet.js';

const PACKAGE = '@supermask/backbone-resnet';

/** Registers `resnet18` (GEM-style reduced ResNet-18) and `resnet50` (bottleneck [3, 4, 6, 3]). */
export function register(registry: Registry): void {
  registry.register<ResNet, ResNetOptions>({
    kind: 'backbone',
    id: 'resnet18',
    description: 'GEM-style reduced ResNet-18: BasicBlock [2,2,2,2], base width nf (20 in the papers), 3x3 stride-1 stem, per-task BN',
    package: PACKAGE,
    schema: resnetSchema(20),
    create: (options, c) =>
      new ResNet('resnet18', c.resolve<BackboneSpec>(TOKENS.BackboneSpec), options, 'basic', [2, 2, 2, 2], c.resolve<Rng>(TOKENS.Rng).child('backbone')),
  });
  registry.register<ResNet, ResNetOptions>({
    kind: 'backbone',
    id: 'resnet50',
    description: 'ResNet-50: Bottleneck [3,4,6,3], base width nf (64 standard), 3x3 stride-1 stem, per-task BN (for 64x64 inputs)',
    package: PACKAGE,
    schema: resnetSchema(64),
    create: (options, c) =>
      new ResNet('resnet50', c.resolve<BackboneSpec>(TOKENS.BackboneSpec), options, 'bottleneck', [3, 4, 6, 3], c.resolve<Rng>(TOKENS.Rng).child('backbone')),
  });
}

export const plugin = { name: PACKAGE, register };
