import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '@supermask/core';
import { dirname, join } from 'node:path';
import type { GraphNode, ModelGraph } from './graph.js';

/** Files of a TensorFlow.js LayersModel export (the names `tf.loadLayersModel` expects over HTTP). */
export const TFJS_MODEL_JSON = 'model.json';
export const TFJS_WEIGHTS = 'group1-shard1of1.bin';

/** The graph as a TensorFlow.js functional LayersModel (weights set); the caller disposes it. */
export function tfjsLayersModel(graph: ModelGraph, name = 'supermask_task_model'): tfl.LayersModel {
  const values = new Map<string, tfl.SymbolicTensor>();
  const created: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    created.push(t);
    return t;
  };
  const input = tfl.input({ shape: graph.inputShape, name: 'input' });
  const one = (n: GraphNode) => values.get(n.inputs[0]!)!;
  try {
    for (const n of graph.nodes) {
      let out: tfl.SymbolicTensor;
      switch (n.op) {
        case 'input':
          out = input;
          break;
        case 'flatten':
          out = tfl.layers.flatten({ name: `${n.id}_flatten` }).apply(one(n)) as tfl.SymbolicTensor;
          break;
        case 'dense':
          out = tfl.layers
            .dense({ name: n.name, units: n.units, useBias: false, weights: [keep(tf.tensor2d(n.weight, [n.fanIn, n.units]))] })
            .apply(one(n)) as tfl.SymbolicTensor;
          break;
        case 'conv2d': {
          // Symmetric padding as its own layer: 'same' pads stride-2 convolutions asymmetrically.
          const x = n.padding > 0 ? (tfl.layers.zeroPadding2d({ name: `${n.name}_pad`, padding: n.padding }).apply(one(n)) as tfl.SymbolicTensor) : one(n);
          out = tfl.layers
            .conv2d({
              name: n.name,
              filters: n.outChannels,
              kernelSize: n.kernel,
              strides: n.stride,
              padding: 'valid',
              useBias: false,
              weights: [keep(tf.tensor4d(n.weight, [n.kernel, n.kernel, n.inChannels, n.outChannels]))],
            })
            .apply(x) as tfl.SymbolicTensor;
          break;
        }
        case 'batchnorm':
          out = tfl.layers
            .batchNormalization({
              name: n.name,
              axis: -1,
              center: false,
              scale: false,
              epsilon: n.epsilon,
              weights: [keep(tf.tensor1d(n.mean)), keep(tf.tensor1d(n.variance))],
            })
            .apply(one(n)) as tfl.SymbolicTensor;
          break;
        case 'relu':
          out = tfl.layers.reLU({ name: `${n.id}_relu` }).apply(one(n)) as tfl.SymbolicTensor;
          break;
        case 'add':
          out = tfl.layers.add({ name: `${n.id}_add` }).apply(n.inputs.map((i) => values.get(i)!)) as tfl.SymbolicTensor;
          break;
        case 'global_avg_pool':
          out = tfl.layers.globalAveragePooling2d({ name: `${n.id}_pool` }).apply(one(n)) as tfl.SymbolicTensor;
          break;
      }
      values.set(n.id, out);
    }
    return tfl.model({ name, inputs: input, outputs: values.get(graph.output)! });
  } finally {
    for (const t of created) t.dispose();
  }
}

/**
 * Writes the graph as a TensorFlow.js LayersModel: model.json (topology + weights manifest) and
 * one weights shard (written first: model.json names it), the layout `tf.loadLayersModel('.../model.json')` reads in a browser.
 */
export async function writeTfjsModel(graph: ModelGraph, outDir: string): Promise<{ modelJson: string; weights: string }> {
  const model = tfjsLayersModel(graph);
  const modelJson = join(outDir, TFJS_MODEL_JSON);
  const weights = join(outDir, TFJS_WEIGHTS);
  try {
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
        writeFileAtomic(weights, new Uint8Array(data));
        const json: tf.io.ModelJSON = {
          format: artifacts.format,
          generatedBy: artifacts.generatedBy,
          convertedBy: null,
          modelTopology: artifacts.modelTopology!,
          weightsManifest: [{ paths: [TFJS_WEIGHTS], weights: artifacts.weightSpecs ?? [] }],
        };
        writeFileAtomic(modelJson, JSON.stringify(json));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: data.byteLength } };
      }),
    );
  } finally {
    model.dispose();
  }
  return { modelJson, weights };
}

/**
 * An IOHandler that loads a LayersModel from model.json and its shards on disk, for Node without
 * tfjs-node: `tf.loadLayersModel(fileModelLoader('models/t2/model.json'))`.
 */
export function fileModelLoader(modelJsonFile: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(readFileSync(modelJsonFile, 'utf8')) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs = manifest.flatMap((group) => group.weights);
        const buffers = manifest.flatMap((group) => group.paths.map((p) => {
          const bytes = readFileSync(join(dirname(modelJsonFile), p));
          return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
        }));
        return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
      });
    },
  };
}
