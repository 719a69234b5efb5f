/**
 * What the page bundles in place of @supermask/core's vendor/tfjs-registrations.mjs (vite.config.ts
 * aliases it here): tfjs-core's gradient and chained-op (x.mul(y)) registrations from tfjs-core's own
 * modules, which vite resolves, so the page holds one copy of tfjs-core; and the webgl backend
 * (core registers the cpu one; webgpu is loaded on demand by backend.ts).
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-webgl';
