import type { ModelConfig } from '../../src/model/hf-config.ts';
import {
  dequantizeBlockwise,
  dequantizePerChannel,
  quantizeBlockwise,
  quantizePerChannel,
} from '../../src/model/onnx/quantize.ts';
import type { QuantKind, QuantSpec } from '../../src/model/quantization.ts';
import type { Tensor } from '../../src/model/safetensors.ts';

/** The body's Linear weights: every one of them is quantized (written out here, not shared with the builder). */
const LINEAR = /\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)\.weight$/;

/** W → dequantize(quantize(W)) as the spec stores a matrix of `kind` (default: the body's). */
export function roundTrip(t: Tensor, spec: QuantSpec, kind: QuantKind = spec.weights): Tensor {
  const [rows, cols] = t.shape as [number, number];
  const blockwise = kind === 'int4' || spec.int8Kernel === 'matmul-nbits';
  const data = blockwise
    ? dequantizeBlockwise(
        quantizeBlockwise(t.data, rows, cols, {
          bits: kind === 'int4' ? 4 : 8,
          blockSize: spec.blockSize,
          zeroPoints: kind === 'int4' && spec.zeroPoints,
        }),
      )
    : dequantizePerChannel(quantizePerChannel(t.data, rows, cols));
  return { shape: t.shape, data };
}

/**
 * The float model a quantized graph stands for: every Linear, and the head and embedding at the
 * precision the spec gives them, replaced by its dequantized weights (for the float64 reference
 * forward). A tied model is returned untied: head and embedding may differ once quantized.
 */
export function dequantizedModel(
  cfg: ModelConfig,
  weights: Map<string, Tensor>,
  spec: QuantSpec,
): { cfg: ModelConfig; weights: Map<string, Tensor> } {
  const out = new Map(weights);
  for (const [name, t] of weights) if (LINEAR.test(name)) out.set(name, roundTrip(t, spec));
  const embed = weights.get('model.embed_tokens.weight')!;
  const lm = weights.get('lm_head.weight') ?? embed;
  if (spec.lmHead !== 'none') out.set('lm_head.weight', roundTrip(lm, spec, spec.lmHead));
  else out.set('lm_head.weight', lm);
  if (spec.embedding !== 'none') out.set('model.embed_tokens.weight', roundTrip(embed, spec, spec.embedding));
  return { cfg: { ...cfg, tieEmbeddings: false }, weights: out };
}
