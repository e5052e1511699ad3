import type { ModelConfig } from '../../src/model/hf-config.ts';
import type { QuantSpec } from '../../src/model/onnx/quant-graph.ts';
import {
  dequantizeBlockwise,
  dequantizePerChannel,
  quantizeBlockwise,
  quantizePerChannel,
} from '../../src/model/onnx/quantize.ts';
import type { Tensor } from '../../src/model/safetensors.ts';

/** The body's Linear weights: every one of them is quantized (written out here, not shared with the builder). */
const LINEAR = /\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)\.weight$/;

/** W → dequantize(quantize(W)) as the spec stores it. */
export function roundTrip(t: Tensor, spec: QuantSpec): Tensor {
  const [rows, cols] = t.shape as [number, number];
  const blockwise = spec.weights === 'int4' || spec.int8Kernel === 'matmul-nbits';
  const data = blockwise
    ? dequantizeBlockwise(
        quantizeBlockwise(t.data, rows, cols, {
          bits: spec.weights === 'int4' ? 4 : 8,
          blockSize: spec.blockSize,
          zeroPoints: spec.weights === 'int4' && spec.zeroPoints,
        }),
      )
    : dequantizePerChannel(quantizePerChannel(t.data, rows, cols));
  return { shape: t.shape, data };
}

/**
 * The float model a quantized graph stands for: every Linear, and the head and embedding as the
 * spec says, replaced by its dequantized weights (for the float64 reference forward). A tied model
 * whose head is quantized but whose embedding is not is returned untied (head ≠ embedding then).
 */
export function dequantizedModel(
  cfg: ModelConfig,
  weights: Map<string, Tensor>,
  spec: QuantSpec,
): { cfg: ModelConfig; weights: Map<string, Tensor> } {
  const out = new Map(weights);
  for (const [name, t] of weights) if (LINEAR.test(name)) out.set(name, roundTrip(t, spec));
  const embed = weights.get('model.embed_tokens.weight')!;
  const lm = weights.get('lm_head.weight');
  if (cfg.tieEmbeddings || !lm) {
    if (!spec.lmHead) return { cfg, weights: out };
    const table = roundTrip(embed, spec);
    out.set('lm_head.weight', table);
    if (spec.embedding) out.set('model.embed_tokens.weight', table);
    return { cfg: { ...cfg, tieEmbeddings: false }, weights: out };
  }
  if (spec.lmHead) out.set('lm_head.weight', roundTrip(lm, spec));
  if (spec.embedding) out.set('model.embed_tokens.weight', roundTrip(embed, spec));
  return { cfg, weights: out };
}
