import onnxProto from 'onnx-proto';
import { toHalf } from '../float-bits.ts';

const { onnx } = onnxProto;

/** Element types the decoder graph uses. */
export type ElemType = 'float32' | 'float16' | 'int64' | 'int32' | 'uint8' | 'int8';

export const ONNX_TYPE: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  uint8: onnx.TensorProto.DataType.UINT8,
  int8: onnx.TensorProto.DataType.INT8,
};

/** A symbolic dimension (string) or a fixed size (number). */
export type Dim = string | number;

export type AttrValue =
  | number
  | number[]
  | string
  | { float: number }
  | { tensor: onnxProto.onnx.ITensorProto };

/** Where an initializer written to the external data file lies in it. */
export interface ExternalLocation {
  offset: number;
  length: number;
}

/**
 * An initializer: its bytes, kept until the model is written, or where a sink already wrote
 * them (large weights stream to the external data file as the graph is built).
 */
export interface InitializerData {
  name: string;
  type: ElemType;
  dims: number[];
  bytes: Uint8Array | null;
  external: ExternalLocation | null;
}

/** Receives large initializers as they are added (see write-model.ts, `ModelFile`). */
export interface InitializerSink {
  /** Bytes at least this long go to the sink; smaller ones stay in the graph. */
  readonly threshold: number;
  write(bytes: Uint8Array): ExternalLocation;
}

/**
 * A small builder for ONNX graphs: nodes are added in order, values are named automatically,
 * and initializers keep their raw bytes until the model is written (see write-model.ts).
 */
export class GraphBuilder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly initializers: InitializerData[] = [];
  #counter = 0;
  #constCache = new Map<string, string>();
  readonly #sink: InitializerSink | null;

  /** @param sink where large initializers go at once, so the builder never holds the weights */
  constructor(sink: InitializerSink | null = null) {
    this.#sink = sink;
  }

  /** A fresh value name with a readable prefix. */
  name(prefix: string): string {
    return `${prefix}_${this.#counter++}`;
  }

  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: ElemType, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Adds a node; returns its output names (one unless `numOutputs` says more). */
  op(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    opts: { outputs?: string[]; numOutputs?: number; domain?: string; name?: string } = {},
  ): string[] {
    const outputs =
      opts.outputs ?? Array.from({ length: opts.numOutputs ?? 1 }, () => this.name(opType.toLowerCase()));
    this.nodes.push({
      opType,
      input: inputs,
      output: outputs,
      name: opts.name ?? this.name(`n_${opType}`),
      domain: opts.domain ?? '',
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outputs;
  }

  /** Single-output shorthand for `op`. */
  op1(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, output?: string): string {
    return this.op(opType, inputs, attrs, output ? { outputs: [output] } : {})[0]!;
  }

  initializer(
    name: string,
    type: ElemType,
    dims: number[],
    data: Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array | Int8Array,
  ): string {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (this.#sink && bytes.byteLength >= this.#sink.threshold) {
      this.initializers.push({ name, type, dims, bytes: null, external: this.#sink.write(bytes) });
    } else {
      this.initializers.push({ name, type, dims, bytes, external: null });
    }
    return name;
  }

  /** An int64 constant (deduplicated), e.g. for Reshape shapes and axes; a number: a scalar. */
  ints(values: number[] | number): string {
    const list = typeof values === 'number' ? [values] : values;
    const key = `i64:${typeof values === 'number' ? 'scalar:' : ''}${list.join(',')}`;
    let name = this.#constCache.get(key);
    if (!name) {
      name = this.initializer(
        this.name('const_i64'),
        'int64',
        typeof values === 'number' ? [] : [list.length],
        BigInt64Array.from(list.map(BigInt)),
      );
      this.#constCache.set(key, name);
    }
    return name;
  }

  /** A scalar constant of the given float type (deduplicated). */
  scalar(value: number, type: 'float32' | 'float16' = 'float32'): string {
    const key = `${type}:${value}`;
    let name = this.#constCache.get(key);
    if (!name) {
      const data = type === 'float32' ? Float32Array.of(value) : Uint16Array.of(toHalf(value));
      name = this.initializer(this.name('const_f'), type, [], data);
      this.#constCache.set(key, name);
    }
    return name;
  }
}

function valueInfo(name: string, type: ElemType, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ONNX_TYPE[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.TENSOR, t: v.tensor };
}
