import { z } from 'zod';

/**
 * The subset of a Hugging Face `config.json` the graph builder and the reference forward read,
 * for LlamaForCausalLM and Qwen2ForCausalLM. Parsed once into a normalised, frozen object.
 */

const ropeScalingSchema = z
  .object({
    rope_type: z.string().optional(),
    type: z.string().optional(),
    factor: z.number().positive(),
    low_freq_factor: z.number().optional(),
    high_freq_factor: z.number().optional(),
    original_max_position_embeddings: z.number().int().optional(),
  })
  .loose();

export const hfConfigSchema = z
  .object({
    architectures: z.array(z.string()).min(1),
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_key_value_heads: z.number().int().positive().optional(),
    head_dim: z.number().int().positive().optional().nullable(),
    max_position_embeddings: z.number().int().positive(),
    rms_norm_eps: z.number().positive(),
    rope_theta: z.number().positive().default(10000),
    rope_scaling: ropeScalingSchema.nullable().optional(),
    tie_word_embeddings: z.boolean().default(false),
    attention_bias: z.boolean().optional(),
    hidden_act: z.string().default('silu'),
  })
  .loose();

export const SUPPORTED_ARCHITECTURES = ['LlamaForCausalLM', 'Qwen2ForCausalLM'] as const;
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

export interface RopeScaling {
  type: 'llama3' | 'linear';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositions: number;
}

/** Normalised model shape; every consumer reads this instead of the raw JSON. */
export interface ModelConfig {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositions: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  tieEmbeddings: boolean;
  /** q/k/v projections carry biases (Qwen2, or Llama with attention_bias). */
  qkvBias: boolean;
}

export class UnsupportedModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedModelError';
  }
}

/** Validates a parsed `config.json` and normalises it; throws with the offending field named. */
export function parseModelConfig(raw: unknown): ModelConfig {
  const parsed = hfConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UnsupportedModelError(`config.json: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const c = parsed.data;
  const architecture = c.architectures[0] as Architecture;
  if (!SUPPORTED_ARCHITECTURES.includes(architecture)) {
    throw new UnsupportedModelError(
      `config.json: unsupported architecture ${c.architectures[0]} (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`,
    );
  }
  if (c.hidden_act !== 'silu')
    throw new UnsupportedModelError(`config.json: unsupported hidden_act ${c.hidden_act}`);
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  const numKvHeads = c.num_key_value_heads ?? c.num_attention_heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new UnsupportedModelError(`config.json: head_dim ${headDim} must be an even integer`);
  }
  if (c.num_attention_heads % numKvHeads !== 0) {
    throw new UnsupportedModelError(
      'config.json: num_attention_heads must be a multiple of num_key_value_heads',
    );
  }
  let ropeScaling: RopeScaling | null = null;
  if (c.rope_scaling) {
    const type = c.rope_scaling.rope_type ?? c.rope_scaling.type;
    if (type === 'llama3' || type === 'linear') {
      ropeScaling = {
        type,
        factor: c.rope_scaling.factor,
        lowFreqFactor: c.rope_scaling.low_freq_factor ?? 1,
        highFreqFactor: c.rope_scaling.high_freq_factor ?? 4,
        originalMaxPositions: c.rope_scaling.original_max_position_embeddings ?? 8192,
      };
    } else if (type !== 'default') {
      throw new UnsupportedModelError(`config.json: unsupported rope_scaling type ${type}`);
    }
  }
  return Object.freeze({
    architecture,
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    intermediateSize: c.intermediate_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads,
    headDim,
    maxPositions: c.max_position_embeddings,
    rmsNormEps: c.rms_norm_eps,
    ropeTheta: c.rope_theta,
    ropeScaling,
    tieEmbeddings: c.tie_word_embeddings,
    qkvBias: architecture === 'Qwen2ForCausalLM' || c.attention_bias === true,
  });
}

/**
 * Rotary inverse frequencies, with Llama 3 / linear scaling applied (same maths as HF's
 * `_compute_llama3_parameters`). Shared by the graph builder and the reference forward.
 */
export function ropeInvFreq(cfg: ModelConfig): Float64Array {
  const half = cfg.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / cfg.ropeTheta ** ((2 * i) / cfg.headDim);
  const s = cfg.ropeScaling;
  if (!s) return inv;
  if (s.type === 'linear') return inv.map((f) => f / s.factor);
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
