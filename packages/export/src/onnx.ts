import { join } from 'node:path';
import { writeFileAtomic } from '@supermask/core';
import { GraphBuilder } from '@supermask/kernels-ort';
import type { ModelGraph } from './graph.js';

/** File of an ONNX export; its graph input is `input` (NHWC, as the run fed it), its output `logits`. */
export const ONNX_MODEL = 'model.onnx';
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'logits';

type Layout = 'nhwc' | 'nchw' | 'flat';

/** [kh, kw, in, out] (tfjs) -> [out, in, kh, kw] (ONNX Conv). */
function hwioToOihw(w: Float32Array, k: number, cin: number, cout: number): number[] {
  const out = new Array<number>(w.length);
  for (let h = 0; h < k; h++)
    for (let x = 0; x < k; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[((o * cin + i) * k + h) * k + x] = w[((h * k + x) * cin + i) * cout + o]!;
  return out;
}

/**
 * The graph as ONNX (opset of @supermask/kernels-ort's GraphBuilder). Images stay NHWC at the
 * interface and are transposed to NCHW before the first convolution.
 */
export function onnxModelBytes(graph: ModelGraph): Uint8Array {
  const b = new GraphBuilder();
  const values = new Map<string, { name: string; layout: Layout }>();
  const as = (id: string, layout: 'nhwc' | 'nchw'): string => {
    const v = values.get(id)!;
    if (v.layout === layout || v.layout === 'flat') return v.name;
    return b.node('Transpose', [v.name], { perm: layout === 'nchw' ? [0, 3, 1, 2] : [0, 2, 3, 1] });
  };
  for (const n of graph.nodes) {
    const first = n.inputs[0]!;
    switch (n.op) {
      case 'input':
        values.set(n.id, { name: b.input(ONNX_INPUT, ['batch', ...n.shape]), layout: n.shape.length === 3 ? 'nhwc' : 'flat' });
        break;
      case 'flatten':
        values.set(n.id, { name: b.node('Flatten', [values.get(first)!.layout === 'flat' ? values.get(first)!.name : as(first, 'nhwc')], { axis: 1 }), layout: 'flat' });
        break;
      case 'dense':
        values.set(n.id, { name: b.node('MatMul', [values.get(first)!.name, b.constantFloat(Array.from(n.weight), [n.fanIn, n.units])]), layout: 'flat' });
        break;
      case 'conv2d': {
        const w = b.constantFloat(hwioToOihw(n.weight, n.kernel, n.inChannels, n.outChannels), [n.outChannels, n.inChannels, n.kernel, n.kernel]);
        const attrs = { kernel_shape: [n.kernel, n.kernel], strides: [n.stride, n.stride], pads: [n.padding, n.padding, n.padding, n.padding] };
        values.set(n.id, { name: b.node('Conv', [as(first, 'nchw'), w], attrs), layout: 'nchw' });
        break;
      }
      case 'batchnorm': {
        const ones = b.constantFloat(new Array<number>(n.channels).fill(1), [n.channels]);
        const zeros = b.constantFloat(new Array<number>(n.channels).fill(0), [n.channels]);
        const stats = [b.constantFloat(Array.from(n.mean), [n.channels]), b.constantFloat(Array.from(n.variance), [n.channels])];
        values.set(n.id, { name: b.node('BatchNormalization', [as(first, 'nchw'), ones, zeros, ...stats], { epsilon: { float: n.epsilon } }), layout: 'nchw' });
        break;
      }
      case 'relu':
        values.set(n.id, { name: b.node('Relu', [values.get(first)!.name]), layout: values.get(first)!.layout });
        break;
      case 'add': {
        const layout = values.get(first)!.layout === 'flat' ? 'flat' : 'nchw';
        const inputs = n.inputs.map((i) => (layout === 'flat' ? values.get(i)!.name : as(i, 'nchw')));
        values.set(n.id, { name: b.node('Add', inputs), layout });
        break;
      }
      case 'global_avg_pool':
        values.set(n.id, { name: b.node('Flatten', [b.node('GlobalAveragePool', [as(first, 'nchw')])], { axis: 1 }), layout: 'flat' });
        break;
    }
  }
  b.output(values.get(graph.output)!.name, ONNX_OUTPUT, ['batch', graph.numClasses]);
  return b.encode();
}

/** Writes model.onnx. */
export function writeOnnxModel(graph: ModelGraph, outDir: string): { model: string } {
  const model = join(outDir, ONNX_MODEL);
  writeFileAtomic(model, onnxModelBytes(graph));
  return { model };
}
