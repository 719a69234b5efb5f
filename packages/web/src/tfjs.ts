/**
 * What the page bundles for `@tensorflow/tfjs` (vite.config.ts aliases it here): tfjs-core with
 * the cpu and webgl backends, without tfjs-layers, -converter and -data, which no supermask
 * package uses (webgpu is loaded on demand by backend.ts). `version` keeps the umbrella package's
 * shape, since results.json records `version.tfjs` (the umbrella's version is core's).
 */
import { version_core } from '@tensorflow/tfjs-core';
// What the umbrella package registers besides the kernels: gradients and the chained tensor ops (x.add(y)).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';

export * from '@tensorflow/tfjs-core';

export const version = { 'tfjs-core': version_core, 'tfjs-backend-cpu': version_core, 'tfjs-backend-webgl': version_core, tfjs: version_core };
