import type { QuantKind, QuantSpec } from '../quantization.ts';
import type { Tensor } from '../safetensors.ts';
import type { Weights } from './decoder-graph.ts';
import type { GraphBuilder } from './graph-builder.ts';
import { quantizeBlockwise, quantizePerChannel } from './quantize.ts';

/**
 * Quantized weights in the decoder graph: every `Linear` of the body, and the embedding and the
 * LM head at their own precision, as ORT's integer kernels read them. See docs/quantization.md
 * for the measurements behind each choice.
 *
 * - int4: com.microsoft.MatMulNBits, 4-bit codes in blocks along the input axis, one float scale
 *   (and optionally a zero point) per block, `accuracy_level` 4 (the activation is quantized to
 *   int8 per block inside the kernel; on this CPU that ran 1.6–2× faster than dequantizing to
 *   float).
 * - int8: one symmetric int8 scale per output channel; the activation is quantized per row (per
 *   token) to 8 bits with its own scale max|x|/127 and multiplied with ONNX MatMulInteger (uint8 ×
 *   int8, zero point 128: ORT's fast u8s8 kernel). Per row, a token's result does not depend on
 *   the other rows of the batch, which a per-tensor scale (ORT's DynamicQuantizeMatMul) would
 *   make it: one large row would coarsen every other row's quantization. An activation read by
 *   several projections (q, k, v; gate, up) is quantized once. `int8Kernel` keeps the two
 *   alternatives it was measured against (docs/quantization.md).
 */

/** A quantized matrix W [out, in] in the graph: multiply activations by Wᵀ, or read rows of W. */
export interface QuantizedMatrix {
  /** x [..., in] → x·Wᵀ [..., out]. */
  matmul(x: string, output?: string): string;
  /** ids [B, S, K] → the dequantized rows W[ids] [B, S, K, in] (the embedding lookup). */
  rows(ids: string): string;
  /**
   * p [N, out] → p·W [N, in] in float over the same dequantized rows (the dense vocabulary
   * mixtures). The table is dequantized only in a run with N > 0; in the others it costs nothing.
   */
  mixture(p: string): string;
}

/**
 * Builds the quantized matrices of one graph. Initializers are created on first use, so a matrix
 * only ever read by rows (an untied embedding) carries no multiplication layout, and a tied table
 * shares its bytes between the head and the embedding.
 */
export class QuantizedWeights {
  readonly #g: GraphBuilder;
  readonly spec: QuantSpec;
  /** The zero point of int8 values stored as uint8: the activations, and u8 weights (created once). */
  #zero = '';
  #zero128(): string {
    return (this.#zero ||= this.#g.initializer('int8.zero_point', 'uint8', [], Uint8Array.of(128)));
  }
  /** Per-row quantized activations by name: q, k and v (gate and up) quantize theirs once. */
  readonly #rowQuantized = new Map<string, { codes: string; scale: string; zero: string }>();

  constructor(g: GraphBuilder, spec: QuantSpec) {
    if (spec.blockSize < 16 || (spec.blockSize & (spec.blockSize - 1)) !== 0)
      throw new Error(`quantization: block size must be a power of two ≥ 16, not ${spec.blockSize}`);
    this.#g = g;
    this.spec = spec;
  }

  /**
   * `w` is in Hugging Face Linear layout [out, in], quantized to `kind` (default: the body's);
   * `name` prefixes its initializers.
   */
  matrix(name: string, w: Tensor, kind: QuantKind = this.spec.weights): QuantizedMatrix {
    const [rows, cols] = w.shape as [number, number];
    // int4 always, int8 when asked, multiply through MatMulNBits (block-wise codes).
    return kind === 'int4' || this.spec.int8Kernel === 'matmul-nbits'
      ? this.#blockMatrix(`${name}.${kind}`, w.data, rows, cols, kind === 'int4' ? 4 : 8)
      : this.#channelMatrix(`${name}.${kind}`, w.data, rows, cols);
  }

  /** y = x·Wᵀ (+ b) for a Linear weight [out, in] and its optional bias [out]. */
  linear(x: string, name: string, w: Tensor, bias?: Tensor): string {
    const y = this.matrix(name, w).matmul(x);
    if (!bias) return y;
    // Sub of the negated bias, not Add: ORT fuses MatMulInteger → Cast → Mul → Add into
    // MatMulIntegerToFloat, whose CPU kernel (1.30) multiplies the bias by a non-scalar
    // activation scale too (measured: wrong logits). Negation is exact, so y − (−b) = y + b.
    const negated = bias.data.map((v) => -v);
    return this.#g.op1('Sub', [
      y,
      this.#g.initializer(`${name}.bias_negated`, 'float32', [negated.length], negated),
    ]);
  }

  #blockMatrix(name: string, data: Float32Array, N: number, K: number, bits: 4 | 8): QuantizedMatrix {
    const g = this.#g;
    const { blockSize } = this.spec;
    const q = quantizeBlockwise(data, N, K, {
      bits,
      blockSize,
      zeroPoints: bits === 4 && this.spec.zeroPoints,
    });
    const blob = (blockSize * bits) / 8;
    const once = <T>(make: () => T) => {
      let v: T | undefined;
      return () => (v ??= make());
    };
    const scales = once(() => g.initializer(`${name}.scales`, 'float32', [N, q.blocksPerRow], q.scales));
    const zeros = once(() =>
      q.zeroPoints
        ? g.initializer(`${name}.zero_points`, 'uint8', [N, q.zeroPoints.length / N], q.zeroPoints)
        : '',
    );
    const matrix: QuantizedMatrix = {
      matmul: (x, output) => {
        const codes = g.initializer(`${name}.codes`, 'uint8', [N, q.blocksPerRow, blob], q.codes);
        const inputs = [x, codes, scales(), ...(q.zeroPoints ? [zeros()] : [])];
        const attrs = { K, N, bits, block_size: blockSize, accuracy_level: 4 };
        return g.op('MatMulNBits', inputs, attrs, {
          domain: 'com.microsoft',
          ...(output ? { outputs: [output] } : {}),
        })[0]!;
      },
      rows: (ids) => {
        if (K % blockSize !== 0)
          throw new Error(
            `quantization: the embedding's width ${K} is not a multiple of the block size ${blockSize} (keep the embedding unquantized)`,
          );
        // GatherBlockQuantized wants the codes as a 2-D [rows, packed cols] tensor: a second
        // initializer over the same bytes (write-model.ts stores shared bytes once).
        const codes = g.initializer(`${name}.codes.rows`, 'uint8', [N, (K * bits) / 8], q.codes);
        const inputs = [codes, ids, scales(), ...(q.zeroPoints ? [zeros()] : [])];
        const attrs = { bits, block_size: blockSize, gather_axis: 0, quantize_axis: 1 };
        return g.op('GatherBlockQuantized', inputs, attrs, { domain: 'com.microsoft' })[0]!;
      },
      mixture: (p) => this.#mixture(matrix, p, N, K),
    };
    return matrix;
  }

  /**
   * p·W through the dequantized rows of `m` ([rows, cols]): rows 0..M−1 with M = `rows` when p has
   * any row, else 0, so a run without dense mixtures dequantizes nothing (p [0, rows] · W[:0]).
   */
  #mixture(m: QuantizedMatrix, p: string, rows: number, cols: number): string {
    const g = this.#g;
    const count = g.op1('Mul', [
      g.op1('Min', [g.op1('Shape', [p], { start: 0, end: 1 }), g.ints([1])]),
      g.ints([rows]),
    ]); // [1]: M
    const ids = g.op1('Range', [g.ints(0), g.op1('Squeeze', [count, g.ints([0])]), g.ints(1)]); // [M]
    const table = g.op1('Reshape', [m.rows(g.op1('Reshape', [ids, g.ints([1, 1, -1])])), g.ints([-1, cols])]);
    const used = g.op1('Slice', [p, g.ints([0]), count, g.ints([1])]); // [rows of p, M]
    return g.op1('MatMul', [used, table]);
  }

  /** x [..., in] → uint8 codes round(x / s) + 128 and s = max|row| / 127 [..., 1], per row. */
  #quantizeRows(x: string): { codes: string; scale: string; zero: string } {
    const g = this.#g;
    let a = this.#rowQuantized.get(x);
    if (!a) {
      const peak = g.op1('ReduceMax', [g.op1('Abs', [x])], { axes: [-1], keepdims: 1 });
      // An all-zero row gets a tiny scale instead of a division by zero (its codes are all 128).
      const scale = g.op1('Div', [g.op1('Max', [peak, g.scalar(1e-30)]), g.scalar(127)]);
      const shifted = g.op1('Add', [g.op1('Round', [g.op1('Div', [x, scale])]), g.scalar(128)]);
      a = { codes: g.op1('Cast', [shifted], { to: 2 }), scale, zero: this.#zero128() };
      this.#rowQuantized.set(x, a);
    }
    return a;
  }

  #channelMatrix(name: string, data: Float32Array, N: number, K: number): QuantizedMatrix {
    const g = this.#g;
    // MatMulInteger has no transB: B is stored [in, out], so a row of W is a column of B.
    const q = quantizePerChannel(data, N, K, { transposed: true });
    const scaleData = q.scales;
    const unsigned = this.spec.unsignedInt8;
    // uint8 + 128 is int8 with its sign bit flipped: done in place on the same bytes.
    let codesT: Int8Array | Uint8Array | null = unsigned ? new Uint8Array(q.codes.buffer) : q.codes;
    if (unsigned) for (let i = 0; i < codesT.length; i++) codesT[i]! ^= 0x80;
    let B = '';
    // Emitted once (both readers of a tied table share the name), then let go: a streamed build
    // keeps no codes of a vocabulary table while the layers are built.
    const codes = () => {
      if (!B) {
        B = g.initializer(`${name}.codes`, unsigned ? 'uint8' : 'int8', [K, N], codesT!);
        codesT = null;
      }
      return B;
    };
    const weightZero = () => (unsigned ? [this.#zero128()] : []);
    let S = '';
    const scales = () => (S ||= g.initializer(`${name}.scales`, 'float32', [N], scaleData));
    const matrix: QuantizedMatrix = {
      matmul: (x, output) => {
        const out = output ? { outputs: [output] } : {};
        if (this.spec.int8Kernel === 'dynamic-quantize-matmul')
          return g.op(
            'DynamicQuantizeMatMul',
            [x, codes(), scales(), ...weightZero()],
            {},
            { domain: 'com.microsoft', ...out },
          )[0]!;
        const a = this.#quantizeRows(x);
        const acc = g.op1('MatMulInteger', [a.codes, codes(), a.zero, ...weightZero()]);
        const scale = g.op1('Mul', [a.scale, scales()]); // [..., 1] · [out]
        return g.op('Mul', [g.op1('Cast', [acc], { to: 1 }), scale], {}, out)[0]!;
      },
      rows: (ids) => {
        const cols = g.op1('Gather', [codes(), ids], { axis: 1 }); // [in, B, S, K]
        const moved = g.op1('Transpose', [cols], { perm: [1, 2, 3, 0] }); // [B, S, K, in]
        const rowScale = g.op1('Unsqueeze', [g.op1('Gather', [scales(), ids]), g.ints([-1])]);
        let values = g.op1('Cast', [moved], { to: 1 });
        if (unsigned) values = g.op1('Sub', [values, g.scalar(128)]);
        return g.op1('Mul', [values, rowScale]);
      },
      mixture: (p) => this.#mixture(matrix, p, N, K),
    };
    return matrix;
  }
}

/**
 * The quantized vocabulary tables of a graph: `table` (the embedding's rows, for the bag's Gather
 * and the dense mixtures) and `head` (logits from normed hidden states), each absent when that side
 * stays float.
 *
 * A tied model has one table E serving both. Quantizing its head quantizes E; with the embedding
 * at the same precision, the embedding reads that same quantized E (one table, as llama.cpp does
 * with a tied `token_embd`), so a soft mixture Σ w·E[id] is built from exactly the rows the head
 * scores with. At another precision (or `none`: float) the embedding gets its own table. Any other
 * head is quantized when it is built, the graph's last op, from the tensor read then: no float
 * table is held while the layers stream through.
 */
export function quantizedVocab(
  q: QuantizedWeights,
  weights: Weights,
  embed: Tensor,
  tied: boolean,
): { table?: QuantizedMatrix; head?: (x: string, output: string) => string } {
  const { lmHead, embedding } = q.spec;
  const table = embedding === 'none' ? null : q.matrix('model.embed_tokens.weight', embed, embedding);
  const headMatrix = () => {
    if (tied && embedding === lmHead) return table!;
    const name = tied ? 'model.embed_tokens.weight' : 'lm_head.weight';
    const w = weights.get(name);
    if (!w) throw new Error(`weights: missing tensor ${name}`);
    return q.matrix(name, w, lmHead as QuantKind);
  };
  return {
    ...(table ? { table } : {}),
    ...(lmHead !== 'none' ? { head: (x: string, output: string) => headMatrix().matmul(x, output) } : {}),
  };
}
