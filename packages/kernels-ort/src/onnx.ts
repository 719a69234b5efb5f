import protobuf from 'protobufjs';

/**
 * The subset of the ONNX protobuf schema (onnx/onnx.proto3, same field numbers) needed to write
 * small inference graphs: a model with one graph of nodes, typed inputs and outputs, attributes
 * and constant initializers. protobufjs encodes it by reflection, so no generated code is needed.
 */
const ONNX_SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            domain: { type: 'string', id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            floatData: { rule: 'repeated', type: 'float', id: 4, options: { packed: true } },
            int64Data: { rule: 'repeated', type: 'int64', id: 7, options: { packed: true } },
            name: { type: 'string', id: 8 },
          },
        },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        TypeProto: { fields: { tensorType: { type: 'TensorTypeProto', id: 1 } } },
        TensorTypeProto: { fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } } },
        TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } } },
        Dimension: { fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } } },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(ONNX_SCHEMA);
const ModelProto = root.lookupType('onnx.ModelProto');

/** ONNX element types used here (TensorProto.DataType). */
export const FLOAT = 1;
export const INT64 = 7;

/** AttributeProto.AttributeType values. */
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_FLOATS = 6;
const ATTR_INTS = 7;

/** ONNX opset the graphs are written against (supported by every onnxruntime >= 1.13). */
export const OPSET = 17;

/** A dimension: a fixed size, or a name for a size known only at run time. */
export type Dim = number | string;

export type AttributeValue = number | number[] | { float: number } | { floats: number[] };

interface NodeSpec {
  opType: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute: Record<string, unknown>[];
}

function makeAttribute(name: string, value: AttributeValue): Record<string, unknown> {
  if (Array.isArray(value)) return { name, type: ATTR_INTS, ints: value };
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer (use { float })`);
    return { name, type: ATTR_INT, i: value };
  }
  if ('floats' in value) return { name, type: ATTR_FLOATS, floats: value.floats };
  return { name, type: ATTR_FLOAT, f: value.float };
}

function valueInfo(name: string, shape: readonly Dim[]): Record<string, unknown> {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/**
 * Builds a small float32 ONNX graph node by node and encodes it as a model (bytes for an
 * onnxruntime session). Value names are generated; `input` and `output` declare the graph's
 * interface in order.
 */
export class GraphBuilder {
  private readonly inputs: Record<string, unknown>[] = [];
  private readonly outputs: Record<string, unknown>[] = [];
  private readonly nodes: NodeSpec[] = [];
  private readonly initializers: Record<string, unknown>[] = [];
  private counter = 0;
  /** Operator domains other than the default one that nodes use, with their opset versions. */
  private readonly domains = new Map<string, number>();

  /** Declares a graph input and returns its name. */
  input(name: string, shape: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, shape));
    return name;
  }

  /** Declares `value` (a node output) as the graph output `name`. */
  output(value: string, name: string, shape: readonly Dim[]): void {
    if (value !== name) this.node('Identity', [value], {}, name);
    this.outputs.push(valueInfo(name, shape));
  }

  /** Adds a node with one output and returns the output's name. */
  node(opType: string, inputs: string[], attributes: Record<string, AttributeValue | undefined> = {}, outputName?: string): string {
    const out = outputName ?? `v${this.counter++}`;
    const attribute = Object.entries(attributes)
      .filter((e): e is [string, AttributeValue] => e[1] !== undefined)
      .map(([k, v]) => makeAttribute(k, v));
    this.nodes.push({ opType, input: inputs, output: [out], attribute });
    return out;
  }

  /**
   * Adds a node of an operator domain other than ONNX's own (for example ONNX Runtime's
   * `com.microsoft.nchwc` contrib ops) at opset `version` and returns the output's name.
   */
  domainNode(domain: string, version: number, opType: string, inputs: string[], attributes: Record<string, AttributeValue | undefined> = {}, outputName?: string): string {
    const known = this.domains.get(domain);
    if (known !== undefined && known !== version) throw new Error(`domain ${domain}: opset ${version} asked after ${known}`);
    this.domains.set(domain, version);
    const out = this.node(opType, inputs, attributes, outputName);
    this.nodes[this.nodes.length - 1]!.domain = domain;
    return out;
  }

  /** A float32 constant. */
  constantFloat(values: number[], dims: number[]): string {
    const name = `c${this.counter++}`;
    this.initializers.push({ name, dataType: FLOAT, dims, floatData: values });
    return name;
  }

  /** An int64 constant (shapes, axes, slice bounds). */
  constantInt64(values: number[], dims: number[] = [values.length]): string {
    const name = `c${this.counter++}`;
    this.initializers.push({ name, dataType: INT64, dims, int64Data: values });
    return name;
  }

  /** The model's protobuf bytes. */
  encode(): Uint8Array {
    const message = ModelProto.fromObject({
      irVersion: 8,
      producerName: '@supermask/kernels-ort',
      opsetImport: [{ domain: '', version: OPSET }, ...[...this.domains].map(([domain, version]) => ({ domain, version }))],
      graph: { name: 'kernel', node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
    return ModelProto.encode(message).finish();
  }
}
