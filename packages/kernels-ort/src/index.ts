export { ORT_BACKEND_NAME, clearOrtSessions, ortRuntime, ortStats, registerOrtBackend, unregisterOrtBackend } from './backend.js';
export type { OrtBackendOptions, OrtBackendRegistration } from './backend.js';
export { ELEMENTWISE_MIN_SIZE, EXTRA_KERNELS, OPTIMIZER_STEP_KERNEL, ORT_KERNELS, STRAIGHT_THROUGH_GRAD_KERNEL } from './kernels.js';
export { GraphBuilder, OPSET } from './onnx.js';
export { OrtRuntime, loadOnnxRuntime } from './runtime.js';
export type { Feed, RuntimeOptions, RuntimeStats, ThreadOptions } from './runtime.js';
export { CONV_BN_GRAD_KERNEL, CONV_BN_KERNEL } from './conv-bn.js';
export type { ConvBnMode } from './conv-bn.js';
export { NCHWC_DOMAIN, nchwcBlockSize } from './nchwc.js';
