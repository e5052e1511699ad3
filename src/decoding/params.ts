import type { ThinkingMode } from '../model/manifest.ts';
import type { StructuredOutput } from './structured/spec.ts';

/**
 * The resolved form of a request's decoding parameters: validated against the model, every
 * default filled in, plain structured-clonable data (it travels from the main thread to the engine
 * worker). `resolveDecodingParams` (resolve-params.ts) makes it from `DecodingParams`, whose
 * schema is params-schema.ts.
 */

/** How the thinking phase feeds the model (docs/reference: soft-thinking.md). */
export type { ThinkingMode } from '../model/manifest.ts';
export type {
  ColdStopParams,
  DecodingParams,
  NoiseParams,
  SuperpositionParams,
  ThinkingParams,
} from './params-schema.ts';

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
