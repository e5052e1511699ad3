import type { ModelConfig } from '../hf-config.ts';
import type { Tensor } from '../safetensors.ts';
import type { GraphBuilder } from './graph-builder.ts';
import { quantizeBlockwise, quantizePerChannel } from './quantize.ts';

/**
 * Quantized weights in the decoder graph: every `Linear` of the body, and optionally the
 * embedding and the LM head, as ORT's integer kernels read them. See docs/quantization.md for
 * the measurements behind each choice.
 *
 * - int4: com.microsoft.MatMulNBits, 4-bit codes in blocks along the input axis, one float scale
 *   (and optionally a zero point) per block, `accuracy_level` 4 (the activation is quantized to
 *   int8 per block inside the kernel; on this CPU that ran 1.6–2× faster than dequantizing to
 *   float).
 * - int8: one symmetric int8 scale per output channel, multiplied with ONNX MatMulInteger after a
 *   DynamicQuantizeLinear of the activation. ORT fuses that into its DynamicQuantizeMatMul /
 *   MatMulIntegerToFloat kernels and quantizes an activation read by several projections once.
 *   `int8Kernel` keeps the two alternatives it was measured against (bench `quant-kernels`).
 */

/** How int8 weights are multiplied (benchmarks compare them; serving uses the default). */
export type Int8Kernel = 'matmul-integer' | 'dynamic-quantize-matmul' | 'matmul-nbits';

export interface QuantSpec {
  weights: 'int8' | 'int4';
  /** Block size of block-wise codes (int4, and int8 through MatMulNBits): a power of two ≥ 16. */
  blockSize: number;
  /** Asymmetric int4 blocks (a zero point per block). */
  zeroPoints: boolean;
  /** Quantize the LM head (for tied embeddings: the shared table; see `quantizedVocab`). */
  lmHead: boolean;
  /** Quantize the input embedding: the bag's Gather reads dequantized rows. */
  embedding: boolean;
  int8Kernel: Int8Kernel;
}

/** The defaults `reverie convert --quant` writes: block 32, symmetric, head and embedding quantized. */
export const QUANT_DEFAULTS: Omit<QuantSpec, 'weights'> = {
  blockSize: 32,
  zeroPoints: false,
  lmHead: true,
  embedding: true,
  int8Kernel: 'matmul-integer',
};

/**
 * A short name for a spec, used in the graph's file name: `int4`, `int8`, plus what differs from
 * the defaults (`int4-b64-zp-fhead-femb`), so graphs of different specs live side by side.
 */
export function quantTag(spec: QuantSpec): string {
  const d = QUANT_DEFAULTS;
  return [
    spec.weights,
    ...(spec.blockSize !== d.blockSize ? [`b${spec.blockSize}`] : []),
    ...(spec.zeroPoints ? ['zp'] : []),
    ...(!spec.lmHead ? ['fhead'] : []),
    ...(!spec.embedding ? ['femb'] : []),
    ...(spec.int8Kernel !== d.int8Kernel ? [spec.int8Kernel] : []),
  ].join('-');
}

/** A quantized matrix W [out, in] in the graph: multiply activations by Wᵀ, or read rows of W. */
export interface QuantizedMatrix {
  /** x [..., in] → x·Wᵀ [..., out]. */
  matmul(x: string, output?: string): string;
  /** ids [B, S, K] → the dequantized rows W[ids] [B, S, K, in] (the embedding lookup). */
  rows(ids: string): string;
}

/**
 * Builds the quantized matrices of one graph. Initializers are created on first use, so a matrix
 * only ever read by rows (an untied embedding) carries no multiplication layout, and a tied table
 * shares its bytes between the head and the embedding.
 */
export class QuantizedWeights {
  readonly #g: GraphBuilder;
  readonly spec: QuantSpec;
  /** DynamicQuantizeLinear outputs by activation name: q, k and v (gate and up) quantize theirs once. */
  readonly #dynamic = new Map<string, string[]>();

  constructor(g: GraphBuilder, spec: QuantSpec) {
    if (spec.blockSize < 16 || (spec.blockSize & (spec.blockSize - 1)) !== 0)
      throw new Error(`quantization: block size must be a power of two ≥ 16, not ${spec.blockSize}`);
    this.#g = g;
    this.spec = spec;
  }

  /** True when this spec multiplies through MatMulNBits (block-wise codes). */
  get #blockwise(): boolean {
    return this.spec.weights === 'int4' || this.spec.int8Kernel === 'matmul-nbits';
  }

  /** `w` is in Hugging Face Linear layout [out, in]; `name` prefixes its initializers. */
  matrix(name: string, w: Tensor): QuantizedMatrix {
    const [rows, cols] = w.shape as [number, number];
    return this.#blockwise
      ? this.#blockMatrix(name, w.data, rows, cols)
      : this.#channelMatrix(name, w.data, rows, cols);
  }

  /** y = x·Wᵀ for a Linear weight [out, in]. */
  linear(x: string, name: string, w: Tensor): string {
    return this.matrix(name, w).matmul(x);
  }

  #blockMatrix(name: string, data: Float32Array, N: number, K: number): QuantizedMatrix {
    const g = this.#g;
    const bits = this.spec.weights === 'int4' ? 4 : 8;
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
    return {
      matmul: (x, output) => {
        const codes = g.initializer(`${name}.q${bits}`, 'uint8', [N, q.blocksPerRow, blob], q.codes);
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
        const codes = g.initializer(`${name}.q${bits}.rows`, 'uint8', [N, (K * bits) / 8], q.codes);
        const inputs = [codes, ids, scales(), ...(q.zeroPoints ? [zeros()] : [])];
        const attrs = { bits, block_size: blockSize, gather_axis: 0, quantize_axis: 1 };
        return g.op('GatherBlockQuantized', inputs, attrs, { domain: 'com.microsoft' })[0]!;
      },
    };
  }

  #channelMatrix(name: string, data: Float32Array, N: number, K: number): QuantizedMatrix {
    const g = this.#g;
    const q = quantizePerChannel(data, N, K);
    // MatMulInteger has no transB: B is stored [in, out], so a row of W is a column of B.
    const codesT = new Int8Array(N * K);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) codesT[k * N + n] = q.codes[n * K + k]!;
    let B = '';
    const codes = () => (B ||= g.initializer(`${name}.q8`, 'int8', [K, N], codesT));
    let S = '';
    const scales = () => (S ||= g.initializer(`${name}.scales`, 'float32', [N], q.scales));
    return {
      matmul: (x, output) => {
        const out = output ? { outputs: [output] } : {};
        if (this.spec.int8Kernel === 'dynamic-quantize-matmul')
          return g.op(
            'DynamicQuantizeMatMul',
            [x, codes(), scales()],
            {},
            { domain: 'com.microsoft', ...out },
          )[0]!;
        let dq = this.#dynamic.get(x);
        if (!dq) this.#dynamic.set(x, (dq = g.op('DynamicQuantizeLinear', [x], {}, { numOutputs: 3 })));
        const [xq, xScale, xZero] = dq as [string, string, string];
        const acc = g.op1('MatMulInteger', [xq, codes(), xZero]);
        const scale = g.op1('Mul', [xScale, scales()]);
        return g.op('Mul', [g.op1('Cast', [acc], { to: 1 }), scale], {}, out)[0]!;
      },
      rows: (ids) => {
        const cols = g.op1('Gather', [codes(), ids], { axis: 1 }); // [in, B, S, K]
        const moved = g.op1('Transpose', [cols], { perm: [1, 2, 3, 0] }); // [B, S, K, in]
        const rowScale = g.op1('Unsqueeze', [g.op1('Gather', [scales(), ids]), g.ints([-1])]);
        return g.op1('Mul', [g.op1('Cast', [moved], { to: 1 }), rowScale]);
      },
    };
  }
}

/**
 * The quantized vocabulary tables of a graph: `gather` (embedding rows for ids [B,S,K]) and
 * `head` (logits from normed hidden states), each absent when that side stays float.
 *
 * A tied model has one table E serving both. Quantizing its head quantizes E; with `embedding`
 * on, the bag's Gather reads the same quantized E (one table, as llama.cpp does with a tied
 * `token_embd`), so a soft mixture Σ w·E[id] is built from exactly the rows the head scores
 * with. With `embedding` off the float E stays for the Gather and the head gets a quantized copy.
 * A tied model whose head stays float keeps one float E for both (`embedding` is then moot).
 */
export function quantizedVocab(
  q: QuantizedWeights,
  cfg: ModelConfig,
  weights: Map<string, Tensor>,
): { gather?: (ids: string) => string; head?: (x: string, output: string) => string } {
  const embed = weights.get('model.embed_tokens.weight')!;
  const lm = weights.get('lm_head.weight');
  const tied = cfg.tieEmbeddings || !lm;
  if (tied && !q.spec.lmHead) return {};
  const head = q.spec.lmHead
    ? q.matrix(tied ? 'model.embed_tokens.weight' : 'lm_head.weight', tied ? embed : lm!)
    : null;
  const table = q.spec.embedding ? (tied ? head! : q.matrix('model.embed_tokens.weight', embed)) : null;
  return {
    ...(table ? { gather: (ids: string) => table.rows(ids) } : {}),
    ...(head ? { head: (x: string, output: string) => head.matmul(x, output) } : {}),
  };
}
