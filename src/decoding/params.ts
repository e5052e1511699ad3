import type { StructuredOutput } from './structured/spec.ts';

/**
 * Request-level decoding parameters (OpenAI names where OpenAI has one) and their resolved,
 * validated form. `resolveDecodingParams` (resolve-params.ts) turns the first into the second.
 */

/** How the thinking phase feeds the model (docs/reference: soft-thinking.md). */
export type ThinkingMode = 'off' | 'hard' | 'soft' | 'fuzzy' | 'latent';

/** Exploration noise for soft/fuzzy thinking. */
export interface NoiseParams {
  type: 'gaussian' | 'dirichlet' | 'gumbel';
  /** gaussian: γ, per-coordinate std = γ·RMS(E) added to the input embedding. Default 0 (off). */
  scale?: number;
  /** dirichlet: concentration α in p' ~ Dir(α·p). Default 1. */
  alpha?: number;
  /** gumbel: τ_g in p' = softmax((log p + g) / τ_g). Default 1. */
  temperature?: number;
}

/** Cold Stop: end thinking after `patience` consecutive steps whose entropy is below `entropy_below`. */
export interface ColdStopParams {
  /** Threshold in nats on the model's next-token entropy at temperature 1 (paper: 0.01). */
  entropy_below: number;
  /** Consecutive low-entropy steps (paper: 256). */
  patience: number;
}

/**
 * The thinking phase: it starts when the prompt ends inside an open think block, or when the model
 * emits the start marker itself.
 */
export interface ThinkingParams {
  /** Default: the checkpoint's default thinking mode, else 'hard'. */
  mode?: ThinkingMode;
  /** Thinking budget in positions; at the budget `</think>` is forced. Default 512. */
  max_tokens?: number;
  /**
   * Thinking τ. hard and latent: the request's temperature (so temperature 0 is greedy from the
   * first token to the last). soft: the checkpoint's soft default, else 0.5; fuzzy: 1e-4.
   */
  temperature?: number;
  /**
   * Truncation of the thinking distribution. Default: the request's own value; for soft and
   * fuzzy a value the request does not set comes from the checkpoint's soft-thinking defaults,
   * else none (the whole vocabulary, as in the paper).
   */
  top_k?: number;
  top_p?: number;
  min_p?: number;
  /** soft/fuzzy only. Default none. */
  noise?: NoiseParams | null;
  /** Default: none; soft and fuzzy: the checkpoint's soft-thinking default. null turns it off. */
  cold_stop?: ColdStopParams | null;
  /** Report each step's shadow token, top tokens and entropy. Default false. */
  trace?: boolean;
  /** Tokens per traced step. Default 5. */
  trace_top_k?: number;
}

/** Superposed decoding (superposed-decoding.md): k drafts from one sequence and one KV row. */
export interface SuperpositionParams {
  /** k, the number of drafts and of returned choices. */
  drafts: number;
  /** N-gram interpolation weight α. Default per k (0.54 for k = 3); 0 without an n-gram store. */
  alpha?: number;
  /** τ of the model distribution. Default 0.06 (0.12 for k ≥ 10). */
  temperature?: number;
  /** Tokens kept from the model distribution. Default 3k. */
  candidates?: number;
  /** Use the checkpoint's n-gram store. Default true. */
  ngram?: boolean;
  /** λ for n = 2..6, not renormalised. Default 0.01, 0.04, 0.15, 0.18, 0.12. */
  lambdas?: number[];
  /** Subtracted when no candidate of a draft has an n-gram continuation. Default 200. */
  penalty?: number;
}

/** A request's decoding parameters as the API receives them; every field optional. */
export interface DecodingParams {
  /** Default 1 (OpenAI); 0 = greedy. */
  temperature?: number;
  /** Default 1 (off). */
  top_p?: number;
  /** Default 0 (off); −1 also means off. */
  top_k?: number;
  /** Default 0 (off). */
  min_p?: number;
  /** OpenAI semantics over the answer tokens; range [−2, 2]. Default 0. */
  presence_penalty?: number;
  frequency_penalty?: number;
  /** HF/vLLM semantics over prompt + answer tokens; > 0. Default 1 (off). */
  repetition_penalty?: number;
  /** token id (as a string key, OpenAI style) → bias added to its logit, in [−100, 100]. */
  logit_bias?: Record<string, number>;
  /** Per-request RNG seed; drawn at random when absent. Thinking and answer draw from it. */
  seed?: number;
  /** Up to any number of non-empty strings; never emitted (unless include_stop_str_in_output), also when spanning tokens. */
  stop?: string | string[] | null;
  /** Token ids that end the answer besides EOS (vLLM); their text is not emitted unless include_stop_str_in_output. */
  stop_token_ids?: number[] | null;
  /** Keep the stop string (or the stop token's text) at the end of the output. Default false. */
  include_stop_str_in_output?: boolean;
  /** Answer tokens before EOS, a stop token or a stop string may end it (EOS and stop ids are banned until then). Default 0. */
  min_tokens?: number;
  /** Do not stop on the model's EOS ids (stop_token_ids and stop strings still stop). Default false. */
  ignore_eos?: boolean;
  /** Leave special tokens out of the text. Default true (vLLM). */
  skip_special_tokens?: boolean;
  /** With skip_special_tokens false: let the tokenizer put spaces between adjacent added tokens. Default true (vLLM). */
  spaces_between_special_tokens?: boolean;
  /** Answer tokens per choice (thinking has its own budget). Default 256. */
  max_tokens?: number;
  logprobs?: boolean;
  /** 0..20; needs logprobs. Default 0. */
  top_logprobs?: number;
  /** Parallel samples sharing the prompt. Default 1. */
  n?: number;
  thinking?: ThinkingParams;
  superposition?: SuperpositionParams | null;
  /**
   * Constrains the answer (after thinking) to a JSON schema, regex, choice or grammar; the API
   * builds it from `response_format` / `structured_outputs`. Not with superposition.
   */
  structured_output?: StructuredOutput | null;
}

/** Temperature and truncation of one distribution. `topK` 0 = off. */
export interface SamplingConfig {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
}

/** Noise after resolution; gaussian with γ = 0 resolves to null. */
export type ResolvedNoise =
  | { type: 'gaussian'; scale: number }
  | { type: 'dirichlet'; alpha: number }
  | { type: 'gumbel'; temperature: number };

export interface ResolvedThinking {
  mode: ThinkingMode;
  maxTokens: number;
  sampling: SamplingConfig;
  noise: ResolvedNoise | null;
  coldStop: { entropyBelow: number; patience: number } | null;
  trace: boolean;
  traceTopK: number;
}

export interface ResolvedSuperposition {
  drafts: number;
  /** Already 0 when the checkpoint has no n-gram store or `ngram` is false. */
  alpha: number;
  temperature: number;
  candidates: number;
  /** λ_2..λ_6. */
  lambdas: number[];
  penalty: number;
}

/** How output ids become text (vLLM's detokenization options). */
export interface TextOptions {
  skipSpecialTokens: boolean;
  spacesBetweenSpecialTokens: boolean;
}

/** Validated parameters with every default filled in; shared by the n decoders of a request. */
export interface ResolvedDecodingParams {
  sampling: SamplingConfig;
  presencePenalty: number;
  frequencyPenalty: number;
  repetitionPenalty: number;
  logitBias: Map<number, number>;
  /** The request's base seed; decoder i uses deriveSeed(seed, i). */
  seed: number;
  stop: string[];
  /** stop_token_ids, validated. */
  stopTokenIds: number[];
  includeStopStr: boolean;
  minTokens: number;
  ignoreEos: boolean;
  text: TextOptions;
  maxTokens: number;
  logprobs: boolean;
  topLogprobs: number;
  n: number;
  thinking: ResolvedThinking;
  superposition: ResolvedSuperposition | null;
  /** Compiled by the engine worker before the request is scheduled (src/decoding/structured/). */
  structuredOutput: StructuredOutput | null;
}

/**
 * The mixture τ of soft and fuzzy thinking when neither the request nor the checkpoint names one
 * (soft-thinking.md, regimes table). Hard and latent thinking take the request's temperature.
 */
export const MIXTURE_TEMPERATURE = { soft: 0.5, fuzzy: 1e-4 } as const;

/** λ for n = 2..6 (Superposed Decoding defaults; they sum to 0.5 and are not renormalised). */
export const DEFAULT_LAMBDAS = [0.01, 0.04, 0.15, 0.18, 0.12];

/** The paper's per-k α and candidate counts; other k use α 0.54 and 3k candidates. */
const SUPERPOSITION_BY_K: Record<number, { alpha: number; candidates: number; temperature: number }> = {
  2: { alpha: 0.62, candidates: 6, temperature: 0.06 },
  3: { alpha: 0.54, candidates: 9, temperature: 0.06 },
  4: { alpha: 0.52, candidates: 12, temperature: 0.06 },
  5: { alpha: 0.6, candidates: 15, temperature: 0.06 },
  6: { alpha: 0.52, candidates: 18, temperature: 0.06 },
  10: { alpha: 0.54, candidates: 30, temperature: 0.12 },
};

/** Superposition defaults for k drafts. */
export function superpositionDefaults(k: number): { alpha: number; candidates: number; temperature: number } {
  return SUPERPOSITION_BY_K[k] ?? { alpha: 0.54, candidates: 3 * k, temperature: k >= 10 ? 0.12 : 0.06 };
}
