/**
 * Rotary position embedding parameters: `rope_scaling` of config.json normalised, and the
 * inverse frequencies and cos/sin scale the graph builder bakes in. The maths follows Hugging Face
 * (`modeling_rope_utils.py`) and vLLM (`rotary_embedding/`); where they differ (dynamic NTK), it
 * follows vLLM, which serves a fixed table. The reference forward writes the same maths again,
 * independently, so a mistake in either shows up as a mismatch.
 */

export type RopeScaling =
  /** Positions divided by `factor` (HF `linear`). */
  | { type: 'linear'; factor: number; maxPositions: number }
  /**
   * NTK-aware scaling of the base. HF recomputes it as a sequence grows past the original length;
   * vLLM computes it once for the longest sequence, `max_position_embeddings × factor`. We do as vLLM.
   */
  | { type: 'dynamic'; factor: number; maxPositions: number }
  /** Llama 3.1's frequency-dependent scaling. */
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositions: number;
      maxPositions: number;
    }
  /** YaRN (Qwen's long-context setting): ramped interpolation plus a cos/sin magnitude scale. */
  | {
      type: 'yarn';
      factor: number;
      originalMaxPositions: number;
      betaFast: number;
      betaSlow: number;
      /** Multiplies cos and sin (HF `attention_factor`). */
      attentionFactor: number;
      /** Round the correction range to whole dimensions (HF and vLLM default true). */
      truncate: boolean;
      maxPositions: number;
    };

const num = (raw: Record<string, unknown>, key: string): number | undefined => {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${key} must be a number`);
  return v;
};

/** YaRN's magnitude correction for an interpolation `scale` (HF `get_mscale`). */
function yarnMscale(scale: number, mscale = 1): number {
  return scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;
}

/**
 * Normalises `rope_scaling` (or `rope_parameters`); null for none or `default`.
 * @param maxPositionEmbeddings config.json's `max_position_embeddings`
 * @throws Error naming the unsupported type or the bad field
 */
export function ropeScalingFrom(
  raw: Record<string, unknown> | null,
  maxPositionEmbeddings: number,
): RopeScaling | null {
  if (!raw) return null;
  const type = (raw.rope_type ?? raw.type ?? 'default') as string;
  if (type === 'default') return null;
  const factor = num(raw, 'factor');
  if (factor === undefined || factor <= 0) throw new Error(`${type} needs a positive factor`);
  switch (type) {
    case 'linear':
    case 'dynamic':
      return { type, factor, maxPositions: Math.floor(maxPositionEmbeddings * factor) };
    case 'llama3':
      return {
        type,
        factor,
        lowFreqFactor: num(raw, 'low_freq_factor') ?? 1,
        highFreqFactor: num(raw, 'high_freq_factor') ?? 4,
        originalMaxPositions: num(raw, 'original_max_position_embeddings') ?? 8192,
        maxPositions: maxPositionEmbeddings,
      };
    case 'yarn': {
      const original = num(raw, 'original_max_position_embeddings') ?? maxPositionEmbeddings;
      const mscale = num(raw, 'mscale');
      const mscaleAllDim = num(raw, 'mscale_all_dim');
      const attentionFactor =
        num(raw, 'attention_factor') ??
        (mscale && mscaleAllDim
          ? yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim)
          : yarnMscale(factor));
      return {
        type,
        factor,
        originalMaxPositions: original,
        betaFast: num(raw, 'beta_fast') || 32,
        betaSlow: num(raw, 'beta_slow') || 1,
        attentionFactor,
        truncate: raw.truncate !== false,
        maxPositions: Math.ceil(original * factor),
      };
    }
    default:
      throw new Error(`unsupported rope_scaling type ${type} (supported: linear, dynamic, llama3, yarn)`);
  }
}

/** What the rotary embedding needs: the base, the head dimension and the scaling. */
export interface RopeShape {
  ropeTheta: number;
  headDim: number;
  ropeScaling: RopeScaling | null;
}

/** Rotary inverse frequencies (headDim / 2 of them), scaling applied. */
export function ropeInvFreq(cfg: RopeShape): Float64Array {
  const d = cfg.headDim;
  const s = cfg.ropeScaling;
  // vLLM's static dynamic-NTK base: HF's formula at the longest sequence, max × factor.
  const theta =
    s?.type === 'dynamic'
      ? cfg.ropeTheta * (s.factor * s.factor - (s.factor - 1)) ** (d / (d - 2))
      : cfg.ropeTheta;
  const inv = new Float64Array(d / 2);
  for (let i = 0; i < d / 2; i++) inv[i] = 1 / theta ** ((2 * i) / d);
  if (!s || s.type === 'dynamic') return inv;
  if (s.type === 'linear') return inv.map((f) => f / s.factor);
  if (s.type === 'yarn') return yarnInvFreq(inv, d, cfg.ropeTheta, s);
  const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositions / s.highFreqFactor;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / s.factor;
    const smooth =
      (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}

/** YaRN: extrapolate the fast dimensions, interpolate the slow ones, a linear ramp between. */
function yarnInvFreq(
  inv: Float64Array,
  d: number,
  theta: number,
  s: Extract<RopeScaling, { type: 'yarn' }>,
): Float64Array {
  const correctionDim = (rotations: number) =>
    (d * Math.log(s.originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
  let low = correctionDim(s.betaFast);
  let high = correctionDim(s.betaSlow);
  if (s.truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, d - 1);
  if (low === high) high += 0.001;
  return inv.map((f, i) => {
    const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
    const extrapolation = 1 - ramp;
    return (f / s.factor) * (1 - extrapolation) + f * extrapolation;
  });
}

/** The factor cos and sin are multiplied by (YaRN's attention factor; 1 otherwise). */
export function ropeAttentionScaling(cfg: RopeShape): number {
  return cfg.ropeScaling?.type === 'yarn' ? cfg.ropeScaling.attentionFactor : 1;
}
