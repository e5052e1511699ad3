import type { Manifest, ManifestQuantization } from './manifest.ts';
import type { WeightDType } from './onnx/decoder-graph.ts';

/*
 * The weight quantization of a graph: what is quantized to what (QuantSpec), its defaults and its
 * file-name tag. Plain data: the server needs it to find a graph, the builder (quant-graph.ts,
 * loaded only to build one) to emit it.
 */

/** Bump when quantized graphs change layout, so stale ones are rebuilt (graph-cache.ts). */
export const QUANTIZER_VERSION = 2;

/** How int8 weights are multiplied (benchmarks compare them; serving uses the default). */
export type Int8Kernel = 'matmul-integer' | 'dynamic-quantize-matmul' | 'matmul-nbits';

/** A quantized precision. */
export type QuantKind = 'int8' | 'int4';

export interface QuantSpec {
  /** The body's Linear layers. */
  weights: QuantKind;
  /** Block size of block-wise codes (int4, and int8 through MatMulNBits): a power of two ≥ 16. */
  blockSize: number;
  /** Asymmetric int4 blocks (a zero point per block). */
  zeroPoints: boolean;
  /** The LM head (of a tied model: the table it shares with the embedding; see `quantizedVocab`). */
  lmHead: QuantKind | 'none';
  /** The input embedding: the bag's Gather reads dequantized rows. */
  embedding: QuantKind | 'none';
  int8Kernel: Int8Kernel;
  /**
   * Store int8 weights as uint8 + 128 (ORT's u8 × u8 kernel): for x86-64 CPUs without VNNI, where
   * u8 × s8 may saturate (cpu-int8.ts). graph-cache.ts sets it for the machine it builds on.
   */
  unsignedInt8: boolean;
}

/**
 * The defaults `reverie convert --quant` writes: int4 in asymmetric blocks of 32 (zero points cost
 * no measurable time and cut the KL by 15% on the default checkpoint), head and embedding int8 (as
 * llama.cpp keeps its output tensor at 6–8 bits: the vocabulary table carried most of int4's
 * error there). docs/quantization.md has the measurements.
 */
export const QUANT_DEFAULTS: Omit<QuantSpec, 'weights'> = {
  blockSize: 32,
  zeroPoints: true,
  lmHead: 'int8',
  embedding: 'int8',
  int8Kernel: 'matmul-integer',
  unsignedInt8: false,
};

/**
 * A short name for a spec, used in the graph's file name: `int4`, `int8`, plus what differs from
 * the defaults (`int4-b64-zp-headnone-embint4`), so graphs of different specs live side by side.
 */
export function quantTag(spec: QuantSpec): string {
  const d = QUANT_DEFAULTS;
  return [
    spec.weights,
    ...(spec.blockSize !== d.blockSize ? [`b${spec.blockSize}`] : []),
    ...(spec.zeroPoints !== d.zeroPoints ? [spec.zeroPoints ? 'zp' : 'sym'] : []),
    ...(spec.lmHead !== d.lmHead ? [`head${spec.lmHead}`] : []),
    ...(spec.embedding !== d.embedding ? [`emb${spec.embedding}`] : []),
    ...(spec.int8Kernel !== d.int8Kernel ? [spec.int8Kernel] : []),
    ...(spec.unsignedInt8 ? ['u8u8'] : []),
  ].join('-');
}

/** What a server or command asks for: the manifest's choice, float weights, or a quantization. */
export type QuantizationChoice = 'none' | 'int8' | 'int4';

/** The graph builder's spec for a manifest's `quantization` (null: float weights). */
export function quantSpec(q: ManifestQuantization | null): QuantSpec | null {
  if (!q) return null;
  return {
    ...QUANT_DEFAULTS,
    weights: q.weights,
    blockSize: q.block_size,
    zeroPoints: q.zero_points,
    lmHead: q.lm_head,
    embedding: q.embedding,
  };
}

/** The default spec of a kind (what `reverie convert --quant KIND` writes); null for `none`. */
export function defaultSpec(choice: QuantizationChoice): QuantSpec | null {
  return choice === 'none' ? null : { ...QUANT_DEFAULTS, weights: choice };
}

/**
 * The spec a checkpoint is served with: the manifest's, unless `override` names another
 * (`reverie serve --quantization`). An override of the manifest's own kind keeps its options
 * (block size, zero points, head, embedding); another kind takes the defaults.
 * @example servedQuantization(manifest, 'int4') // int4 even when the manifest says int8
 */
export function servedQuantization(manifest: Manifest, override?: QuantizationChoice): QuantSpec | null {
  if (override === undefined) return quantSpec(manifest.quantization);
  if (manifest.quantization?.weights === override) return quantSpec(manifest.quantization);
  return defaultSpec(override);
}

/**
 * The graph a checkpoint is served with: its quantization (`servedQuantization`) and its weight
 * type. A quantized graph computes in fp32; the manifest's `dtype` is the float graph's (so
 * `--quantization none` on an fp16 checkpoint serves fp16, an int8 override fp32 activations).
 * An explicit `dtype` fp16 with a quantization is left to the builder to refuse.
 */
export function servedGraph(
  manifest: Manifest,
  opts: { dtype?: WeightDType; quantization?: QuantizationChoice },
): { dtype: WeightDType; quantization: QuantSpec | null } {
  const quantization = servedQuantization(manifest, opts.quantization);
  return { dtype: opts.dtype ?? (quantization ? 'fp32' : (manifest.dtype ?? 'fp32')), quantization };
}
