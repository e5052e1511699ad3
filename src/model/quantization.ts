import type { Manifest, ManifestQuantization } from './manifest.ts';
import { QUANT_DEFAULTS, type QuantSpec } from './onnx/quant-graph.ts';

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
