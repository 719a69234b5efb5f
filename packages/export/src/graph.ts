import type { Backbone, ExportedModel, MaskedLayer } from '@supermask/core';
import { ConfigError } from '@supermask/core';

/**
 * A plain inference graph of an exported task model: the operations of the backbone's forward
 * pass with the task's effective weights (W * M) and batch-norm statistics baked in. The tfjs and
 * ONNX writers translate it node by node. Inputs are NHWC (as the runner feeds them); the output
 * is the logits of the task's classes (superfluous outputs are dropped from the head).
 */
export type GraphOp =
  | { op: 'input'; shape: number[] }
  | { op: 'flatten'; size: number }
  /** y = x W, W row-major [inputs, units]. */
  | { op: 'dense'; name: string; fanIn: number; units: number; weight: Float32Array }
  /** NHWC convolution, W as [kh, kw, in, out]; symmetric zero padding. */
  | { op: 'conv2d'; name: string; kernel: number; stride: number; padding: number; inChannels: number; outChannels: number; weight: Float32Array }
  /** Non-affine batch norm with fixed statistics: (x - mean) / sqrt(variance + epsilon). */
  | { op: 'batchnorm'; name: string; channels: number; epsilon: number; mean: Float32Array; variance: Float32Array }
  | { op: 'relu' }
  | { op: 'add' }
  | { op: 'global_avg_pool' };

export type GraphNode = GraphOp & { id: string; inputs: string[] };

export interface ModelGraph {
  nodes: GraphNode[];
  /** The input node's id (the first node) and the output node's id (the logits). */
  input: string;
  output: string;
  inputShape: number[];
  numClasses: number;
}

class GraphWriter {
  readonly nodes: GraphNode[] = [];
  private count = 0;
  add(op: GraphOp, inputs: string[], id = `n${this.count++}`): string {
    this.nodes.push({ ...op, id, inputs } as GraphNode);
    return id;
  }
}

interface ConvLike extends MaskedLayer {
  stride: number;
  padding: number | string;
}
interface NormLike {
  name: string;
  channels: number;
  epsilon: number;
  statistics(task: number): { mean: Float32Array; variance: Float32Array };
}

/** The first `columns` columns of a row-major [rows, cols] matrix. */
function leadingColumns(values: Float32Array, rows: number, cols: number, columns: number): Float32Array {
  if (columns === cols) return values;
  const out = new Float32Array(rows * columns);
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * cols, r * cols + columns), r * columns);
  return out;
}

function weightOf(layer: MaskedLayer): Float32Array {
  return Float32Array.from(layer.weight.dataSync() as Float32Array);
}

/** The head as a dense layer over the classes only (a 1x1 convolution on pooled features is the same product). */
function head(g: GraphWriter, layer: MaskedLayer, from: string, numClasses: number): string {
  const cols = layer.shape[layer.shape.length - 1]!;
  const rows = layer.size / cols;
  return g.add({ op: 'dense', name: layer.name, fanIn: rows, units: numClasses, weight: leadingColumns(weightOf(layer), rows, cols, numClasses) }, [from]);
}

function lenetGraph(g: GraphWriter, backbone: Backbone, input: string, inputShape: number[], numClasses: number): string {
  const size = inputShape.reduce((a, b) => a * b, 1);
  let h = g.add({ op: 'flatten', size }, [input]);
  const layers = backbone.layers;
  for (const layer of layers.slice(0, -1)) {
    const [fanIn, units] = layer.shape as [number, number];
    h = g.add({ op: 'relu' }, [g.add({ op: 'dense', name: layer.name, fanIn, units, weight: weightOf(layer) }, [h])]);
  }
  return head(g, layers[layers.length - 1]!, h, numClasses);
}

function resnetGraph(g: GraphWriter, backbone: Backbone, input: string, numClasses: number): string {
  const layers = new Map(backbone.layers.map((l) => [l.name, l]));
  const norms = new Map(((backbone as unknown as { batchNorms: NormLike[] }).batchNorms ?? []).map((n) => [n.name, n]));
  const conv = (name: string, from: string): string => {
    const l = layers.get(name) as ConvLike | undefined;
    if (!l) throw new Error(`the ResNet has no convolution ${name}`);
    if (typeof l.padding !== 'number') throw new Error(`${name}: padding ${String(l.padding)} is not a number`);
    const [kernel, , inChannels, outChannels] = l.shape as [number, number, number, number];
    return g.add({ op: 'conv2d', name, kernel, stride: l.stride, padding: l.padding, inChannels, outChannels, weight: weightOf(l) }, [from]);
  };
  const bn = (name: string, from: string): string => {
    const n = norms.get(name);
    if (!n) throw new Error(`the ResNet has no batch norm ${name}`);
    const { mean, variance } = n.statistics(0);
    return g.add({ op: 'batchnorm', name, channels: n.channels, epsilon: n.epsilon, mean, variance }, [from]);
  };
  const relu = (from: string) => g.add({ op: 'relu' }, [from]);
  const d = backbone.describe() as { block: 'basic' | 'bottleneck'; stages: number[] };
  let h = relu(bn('stem_bn', conv('stem', input)));
  d.stages.forEach((count, s) => {
    for (let i = 0; i < count; i++) {
      const name = `layer${s + 1}.${i}`;
      let out: string;
      if (d.block === 'basic') {
        out = bn(`${name}.bn2`, conv(`${name}.conv2`, relu(bn(`${name}.bn1`, conv(`${name}.conv1`, h)))));
      } else {
        const a = relu(bn(`${name}.bn1`, conv(`${name}.conv1`, h)));
        const b = relu(bn(`${name}.bn2`, conv(`${name}.conv2`, a)));
        out = bn(`${name}.bn3`, conv(`${name}.conv3`, b));
      }
      const skip = layers.has(`${name}.shortcut`) ? bn(`${name}.shortcut_bn`, conv(`${name}.shortcut`, h)) : h;
      h = relu(g.add({ op: 'add' }, [out, skip]));
    }
  });
  return head(g, layers.get('head')!, g.add({ op: 'global_avg_pool' }, [h]), numClasses);
}

const BUILDERS: Record<string, (g: GraphWriter, model: ExportedModel, input: string) => string> = {
  lenet: (g, m, input) => lenetGraph(g, m.backbone, input, m.manifest.input_shape, m.manifest.num_classes),
  resnet18: (g, m, input) => resnetGraph(g, m.backbone, input, m.manifest.num_classes),
  resnet50: (g, m, input) => resnetGraph(g, m.backbone, input, m.manifest.num_classes),
};

/** Backbones whose exported models can be written as TensorFlow.js and ONNX graphs. */
export const GRAPH_BACKBONES = Object.keys(BUILDERS);

/** The inference graph of an exported task model (its backbone must be one of GRAPH_BACKBONES). */
export function modelGraph(model: ExportedModel): ModelGraph {
  const id = model.manifest.backbone.id;
  const build = BUILDERS[id];
  if (!build) {
    throw new ConfigError(`backbone "${id}" cannot be exported as a TensorFlow.js or ONNX graph; supported: ${GRAPH_BACKBONES.join(', ')} (the native format exports any backbone)`);
  }
  const g = new GraphWriter();
  const input = g.add({ op: 'input', shape: model.manifest.input_shape }, [], 'input');
  const output = build(g, model, input);
  return { nodes: g.nodes, input, output, inputShape: model.manifest.input_shape, numClasses: model.manifest.num_classes };
}
