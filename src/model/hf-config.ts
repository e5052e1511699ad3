import { z } from 'zod';
import { type RopeScaling, ropeScalingFrom } from './rope.ts';

/**
 * The subset of a Hugging Face `config.json` the graph builder and the reference forward read,
 * for the decoder families reverie runs (Llama, Mistral, Qwen2, Qwen3). Parsed once into a
 * normalised, frozen object.
 */

export type { RopeScaling } from './rope.ts';

const ropeScalingSchema = z.looseObject({
  rope_type: z.string().optional(),
  type: z.string().optional(),
  factor: z.number().positive().optional(),
});

export const hfConfigSchema = z
  .object({
    architectures: z.array(z.string()).min(1),
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_key_value_heads: z.number().int().positive().nullish(),
    head_dim: z.number().int().positive().optional().nullable(),
    max_position_embeddings: z.number().int().positive(),
    rms_norm_eps: z.number().positive(),
    rope_theta: z.number().positive().optional(),
    rope_scaling: ropeScalingSchema.nullable().optional(),
    /** transformers ≥ 4.56 writes `rope_theta` and the scaling here instead. */
    rope_parameters: ropeScalingSchema.extend({ rope_theta: z.number().positive().optional() }).nullish(),
    tie_word_embeddings: z.boolean().default(false),
    attention_bias: z.boolean().optional(),
    mlp_bias: z.boolean().optional(),
    hidden_act: z.string().default('silu'),
    sliding_window: z.number().int().positive().nullish(),
    /** Qwen2/Qwen3 name a sliding window but only use it when this is true. */
    use_sliding_window: z.boolean().optional(),
  })
  .loose();

export const SUPPORTED_ARCHITECTURES = [
  'LlamaForCausalLM',
  'MistralForCausalLM',
  'Qwen2ForCausalLM',
  'Qwen3ForCausalLM',
] as const;
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

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
  /**
   * Positions the model was configured for, with rope scaling applied as vLLM derives it
   * (`yarn`: original × factor; `linear`/`dynamic`: max_position_embeddings × factor).
   */
  maxPositions: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  tieEmbeddings: boolean;
  /** q/k/v projections carry biases (Qwen2, or another family with attention_bias). */
  qkvBias: boolean;
  /** The output projection carries a bias (attention_bias outside Qwen2, which biases q/k/v only). */
  oBias: boolean;
  /** gate/up/down projections carry biases (Llama's mlp_bias). */
  mlpBias: boolean;
  /** Per-head RMSNorm of q and k before the rotary embedding (Qwen3). */
  qkNorm: boolean;
  /** Sliding-window attention span in positions, or null when attention is global. */
  slidingWindow: number | null;
}

export class UnsupportedModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedModelError';
  }
}

/** The error for an architecture reverie cannot run, naming the ones it can. */
export function unsupportedArchitectureMessage(arch: string): string {
  return `unsupported architecture ${arch} (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`;
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
    throw new UnsupportedModelError(`config.json: ${unsupportedArchitectureMessage(c.architectures[0]!)}`);
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
  const params = c.rope_parameters ?? null;
  const scaling = c.rope_scaling ?? (params?.rope_type || params?.type ? params : null);
  const ropeTheta = c.rope_theta ?? params?.rope_theta ?? 10000;
  let ropeScaling: RopeScaling | null;
  try {
    ropeScaling = ropeScalingFrom(scaling, c.max_position_embeddings);
  } catch (err) {
    throw new UnsupportedModelError(`config.json: rope_scaling: ${(err as Error).message}`);
  }
  const qwen = architecture === 'Qwen2ForCausalLM' || architecture === 'Qwen3ForCausalLM';
  // Qwen configs always name a window and switch it with use_sliding_window; Mistral's is live when set.
  const windowed = qwen ? c.use_sliding_window === true : true;
  return Object.freeze({
    architecture,
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    intermediateSize: c.intermediate_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads,
    headDim,
    maxPositions: ropeScaling?.maxPositions ?? c.max_position_embeddings,
    rmsNormEps: c.rms_norm_eps,
    ropeTheta,
    ropeScaling,
    tieEmbeddings: c.tie_word_embeddings,
    qkvBias: architecture === 'Qwen2ForCausalLM' || c.attention_bias === true,
    oBias: architecture !== 'Qwen2ForCausalLM' && c.attention_bias === true,
    mlpBias: c.mlp_bias === true,
    qkNorm: architecture === 'Qwen3ForCausalLM',
    slidingWindow: windowed ? (c.sliding_window ?? null) : null,
  });
}

/**
 * Refuses a model whose attention is windowed within the positions it will serve: reverie's
 * attention is global, so beyond the window it would compute something the model never saw.
 * @param maxModelLen the most positions one sequence will use
 */
export function checkSlidingWindow(cfg: ModelConfig, maxModelLen: number): void {
  const w = cfg.slidingWindow;
  if (w !== null && w < maxModelLen) {
    throw new UnsupportedModelError(
      `${cfg.architecture} uses sliding-window attention (sliding_window ${w}) and reverie's attention is global: ` +
        `serve it with a max model length of at most ${w} (--max-model-len ${w} or REVERIE_MAX_MODEL_LEN=${w}), not ${maxModelLen}`,
    );
  }
}
