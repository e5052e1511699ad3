import {
  type ColdStopParams,
  DEFAULT_LAMBDAS,
  type DecodingParams,
  MIXTURE_TEMPERATURE,
  type NoiseParams,
  type ResolvedDecodingParams,
  type ResolvedNoise,
  type ResolvedSuperposition,
  type ResolvedThinking,
  type SamplingConfig,
  type SuperpositionParams,
  superpositionDefaults,
  type ThinkingMode,
  type ThinkingParams,
} from './params.ts';
import { randomSeed } from './rng.ts';
import { checkStructuredOutput, StructuredOutputError } from './structured/spec.ts';
import type { DecodeContext } from './types.ts';

/** A request's decoding parameters are invalid for this checkpoint (maps to HTTP 400). */
export class DecodingParamsError extends Error {
  readonly code = 'invalid_decoding_params';
  constructor(message: string) {
    super(message);
    this.name = 'DecodingParamsError';
  }
}

/** A checkpoint's soft/fuzzy thinking defaults (the manifest's `defaults.soft_thinking`). */
export interface SoftThinkingDefaults {
  temperature?: number;
  top_k?: number;
  top_p?: number;
  min_p?: number;
  cold_stop?: ColdStopParams | null;
}

/** Checkpoint-level fallbacks (the manifest's `defaults` object has this shape). */
export interface DecodingDefaults {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  repetition_penalty?: number;
  max_tokens?: number;
  thinking_mode?: ThinkingMode;
  thinking_max_tokens?: number;
  soft_thinking?: SoftThinkingDefaults;
}

const THINKING_MODES: readonly ThinkingMode[] = ['off', 'hard', 'soft', 'fuzzy', 'latent'];

/** The four sampling fields, any of them unset. */
type SamplingFields = { temperature?: number; top_k?: number; top_p?: number; min_p?: number };

function check(ok: boolean, message: string): void {
  if (!ok) throw new DecodingParamsError(message);
}

function inRange(name: string, value: number, lo: number, hi: number): number {
  check(
    Number.isFinite(value) && value >= lo && value <= hi,
    `${name} must be in [${lo}, ${hi}], got ${value}`,
  );
  return value;
}

function positiveInt(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  check(Number.isInteger(value) && value >= 1 && value <= max, `${name} must be an integer in [1, ${max}]`);
  return value;
}

/** Validates a sampling configuration; each field from the first of `layers` that sets it. */
function sampling(prefix: string, ...layers: (SamplingFields | undefined)[]): SamplingConfig {
  const pick = <K extends keyof SamplingFields>(key: K, fallback: number): number =>
    layers.find((l) => l?.[key] !== undefined)?.[key] ?? fallback;
  const topK = pick('top_k', 0);
  check(Number.isInteger(topK) && topK >= -1, `${prefix}top_k must be an integer ≥ −1`);
  return {
    temperature: inRange(`${prefix}temperature`, pick('temperature', 1), 0, 100),
    topK: Math.max(topK, 0),
    topP: inRange(`${prefix}top_p`, pick('top_p', 1), Number.MIN_VALUE, 1),
    minP: inRange(`${prefix}min_p`, pick('min_p', 0), 0, 1),
  };
}

function coldStop(p: ColdStopParams) {
  return {
    entropyBelow: inRange('thinking.cold_stop.entropy_below', p.entropy_below, 0, 1e6),
    patience: positiveInt('thinking.cold_stop.patience', p.patience),
  };
}

/**
 * The thinking phase's sampling. Hard and latent thinking inherit the request's temperature,
 * top_k, top_p and min_p (thinking.* overrides each), so a greedy request thinks greedily. Soft
 * and fuzzy thinking keep their own mixture τ (the checkpoint's soft default, else the paper's);
 * their truncation is the request's own, else the checkpoint's soft default, else the request
 * default.
 */
function thinkingSampling(
  mode: ThinkingMode,
  t: ThinkingParams,
  request: DecodingParams,
  defaults: DecodingDefaults,
): SamplingConfig {
  const requestDefaults = {
    temperature: defaults.temperature,
    top_k: defaults.top_k,
    top_p: defaults.top_p,
    min_p: defaults.min_p,
  };
  if (mode !== 'soft' && mode !== 'fuzzy') return sampling('thinking.', t, request, requestDefaults);
  const soft = defaults.soft_thinking ?? {};
  const temperature =
    mode === 'soft' ? (soft.temperature ?? MIXTURE_TEMPERATURE.soft) : MIXTURE_TEMPERATURE.fuzzy;
  const { temperature: _ignored, ...truncation } = request;
  return sampling('thinking.', t, { ...truncation, temperature }, soft, requestDefaults);
}

function noise(p: NoiseParams | null | undefined): ResolvedNoise | null {
  if (!p) return null;
  switch (p.type) {
    case 'gaussian': {
      const scale = inRange('thinking.noise.scale', p.scale ?? 0, 0, 100);
      return scale === 0 ? null : { type: 'gaussian', scale };
    }
    case 'dirichlet':
      return { type: 'dirichlet', alpha: inRange('thinking.noise.alpha', p.alpha ?? 1, 1e-6, 1e6) };
    case 'gumbel':
      return {
        type: 'gumbel',
        temperature: inRange('thinking.noise.temperature', p.temperature ?? 1, 1e-6, 100),
      };
    default:
      throw new DecodingParamsError(`thinking.noise.type must be gaussian, dirichlet or gumbel`);
  }
}

function thinking(
  p: ThinkingParams,
  request: DecodingParams,
  ctx: DecodeContext,
  defaults: DecodingDefaults,
): ResolvedThinking {
  const mode = p.mode ?? defaults.thinking_mode ?? 'hard';
  check(THINKING_MODES.includes(mode), `thinking.mode must be off, hard, soft, fuzzy or latent`);
  check(
    mode !== 'latent' || ctx.supportsLatent,
    'thinking.mode "latent" is not supported by this checkpoint',
  );
  const mixture = mode === 'soft' || mode === 'fuzzy';
  const stop = p.cold_stop === undefined ? (mixture ? defaults.soft_thinking?.cold_stop : null) : p.cold_stop;
  const resolvedNoise = noise(p.noise);
  check(
    resolvedNoise === null || mode === 'soft' || mode === 'fuzzy',
    'thinking.noise applies to soft and fuzzy thinking only',
  );
  return {
    mode,
    maxTokens: positiveInt('thinking.max_tokens', p.max_tokens ?? defaults.thinking_max_tokens ?? 512),
    sampling: thinkingSampling(mode, p, request, defaults),
    noise: resolvedNoise,
    coldStop: stop ? coldStop(stop) : null,
    trace: p.trace ?? false,
    traceTopK: positiveInt('thinking.trace_top_k', p.trace_top_k ?? 5, 100),
  };
}

function superposition(p: SuperpositionParams, ctx: DecodeContext): ResolvedSuperposition {
  const drafts = positiveInt('superposition.drafts', p.drafts, 64);
  const d = superpositionDefaults(drafts);
  const lambdas = p.lambdas ?? DEFAULT_LAMBDAS;
  check(
    lambdas.length === 5 && lambdas.every((l) => Number.isFinite(l) && l >= 0),
    'superposition.lambdas must be 5 non-negative numbers (n = 2..6)',
  );
  const hasStore = ctx.ngram != null && (p.ngram ?? true);
  const candidates = positiveInt('superposition.candidates', p.candidates ?? d.candidates, 100_000);
  check(candidates >= drafts, 'superposition.candidates must be at least superposition.drafts');
  return {
    drafts,
    alpha: hasStore ? inRange('superposition.alpha', p.alpha ?? d.alpha, 0, 1) : 0,
    temperature: inRange('superposition.temperature', p.temperature ?? d.temperature, 1e-6, 100),
    candidates: Math.min(candidates, ctx.tokenizerVocabSize),
    lambdas: [...lambdas],
    penalty: inRange('superposition.penalty', p.penalty ?? 200, 0, 1e9),
  };
}

function logitBias(bias: Record<string, number> | undefined, vocab: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const [key, value] of Object.entries(bias ?? {})) {
    const id = Number(key);
    check(Number.isInteger(id) && id >= 0 && id < vocab, `logit_bias: ${key} is not a token id`);
    out.set(id, inRange(`logit_bias[${key}]`, value, -100, 100));
  }
  return out;
}

/**
 * Validates a request's parameters against a checkpoint and fills every default. Call once per
 * request; the n decoders of the request share the result (and its seed).
 *
 * @throws DecodingParamsError naming the offending field.
 * @example const resolved = resolveDecodingParams(body, ctx, manifest.defaults);
 */
export function resolveDecodingParams(
  params: DecodingParams,
  ctx: DecodeContext,
  defaults: DecodingDefaults = {},
): ResolvedDecodingParams {
  const stop = params.stop == null ? [] : typeof params.stop === 'string' ? [params.stop] : params.stop;
  check(
    stop.every((s) => typeof s === 'string' && s.length > 0),
    'stop strings must be non-empty',
  );
  const logprobs = params.logprobs ?? false;
  const topLogprobs = params.top_logprobs ?? 0;
  check(Number.isInteger(topLogprobs) && topLogprobs >= 0 && topLogprobs <= 20, 'top_logprobs must be 0..20');
  check(topLogprobs === 0 || logprobs, 'top_logprobs needs logprobs: true');
  const n = positiveInt('n', params.n ?? 1, 128);
  const superposed = params.superposition ? superposition(params.superposition, ctx) : null;
  check(!superposed || n === 1, 'superposition returns its drafts as the choices: n must be 1');
  check(!superposed || !logprobs, 'logprobs are not available with superposition');
  const structured = params.structured_output ? structuredOutput(params.structured_output) : null;
  check(!superposed || !structured, 'structured_output cannot be combined with superposition');
  const seed = params.seed ?? randomSeed();
  check(Number.isSafeInteger(seed), 'seed must be an integer');
  const maxTokens = positiveInt('max_tokens', params.max_tokens ?? defaults.max_tokens ?? 256);
  const minTokens = params.min_tokens ?? 0;
  check(
    Number.isInteger(minTokens) && minTokens >= 0 && minTokens <= maxTokens,
    `min_tokens must be an integer in [0, max_tokens = ${maxTokens}], got ${minTokens}`,
  );
  const stopTokenIds = params.stop_token_ids ?? [];
  for (const id of stopTokenIds) {
    check(
      Number.isInteger(id) && id >= 0 && id < ctx.tokenizerVocabSize,
      `stop_token_ids: ${id} is not a token id (0..${ctx.tokenizerVocabSize - 1})`,
    );
  }
  return {
    sampling: sampling('', params, defaults),
    presencePenalty: inRange('presence_penalty', params.presence_penalty ?? 0, -2, 2),
    frequencyPenalty: inRange('frequency_penalty', params.frequency_penalty ?? 0, -2, 2),
    repetitionPenalty: inRange(
      'repetition_penalty',
      params.repetition_penalty ?? defaults.repetition_penalty ?? 1,
      1e-3,
      100,
    ),
    logitBias: logitBias(params.logit_bias, ctx.tokenizerVocabSize),
    seed,
    stop: [...stop],
    stopTokenIds: [...new Set(stopTokenIds)],
    includeStopStr: params.include_stop_str_in_output ?? false,
    minTokens,
    ignoreEos: params.ignore_eos ?? false,
    text: {
      skipSpecialTokens: params.skip_special_tokens ?? true,
      spacesBetweenSpecialTokens: params.spaces_between_special_tokens ?? true,
    },
    maxTokens,
    logprobs,
    topLogprobs,
    n,
    thinking: thinking(params.thinking ?? {}, params, ctx, defaults),
    superposition: superposed,
    structuredOutput: structured,
  };
}

function structuredOutput(value: unknown) {
  try {
    return checkStructuredOutput(value);
  } catch (err) {
    if (err instanceof StructuredOutputError) throw new DecodingParamsError(err.message);
    throw err;
  }
}
