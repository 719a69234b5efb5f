/**
 * @supermask/export: a task of a supermask run as a model others can load — a TensorFlow.js
 * LayersModel (`tf.loadLayersModel`), an ONNX model (onnxruntime) or the native format — each with
 * a model card.
 */
export { EXPORT_FORMATS, exportModel, type ExportFormat } from './export.js';
export { GRAPH_BACKBONES, modelGraph, type GraphNode, type GraphOp, type ModelGraph } from './graph.js';
export { TFJS_MODEL_JSON, TFJS_WEIGHTS, fileModelLoader, tfjsLayersModel, writeTfjsModel } from './tfjs.js';
export { ONNX_INPUT, ONNX_MODEL, ONNX_OUTPUT, onnxModelBytes, writeOnnxModel } from './onnx.js';
export { MODEL_CARD, writeModelCard, type ModelCardInfo } from './card.js';
