import onnxProto from 'onnx-proto';

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

/** An initializer's bytes, kept aside so large weights can go to an external data file. */
export interface InitializerData {
  name: string;
  type: ElemType;
  dims: number[];
  bytes: Uint8Array;
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
    this.initializers.push({
      name,
      type,
      dims,
      bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** An int64 constant (deduplicated), e.g. for Reshape shapes and axes. */
  ints(values: number[]): string {
    const key = `i64:${values.join(',')}`;
    let name = this.#constCache.get(key);
    if (!name) {
      name = this.initializer(
        this.name('const_i64'),
        'int64',
        [values.length],
        BigInt64Array.from(values.map(BigInt)),
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

/** float32 → IEEE half (round to nearest even), for fp16 weights. */
export function toHalf(value: number): number {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent.
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** Converts a float32 array to half-precision bits. */
export function toHalfArray(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = toHalf(data[i]!);
  return out;
}
