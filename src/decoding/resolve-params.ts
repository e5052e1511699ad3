import {
  type DecodingDefaults,
  DecodingParamsError,
  type ModelFacts,
  resolveThinkingMode,
} from './model-facts.ts';
import {
  DEFAULT_LAMBDAS,
  MIXTURE_TEMPERATURE,
  type ResolvedDecodingParams,
  type ResolvedNoise,
  type ResolvedSuperposition,
  type ResolvedThinking,
  type SamplingConfig,
  superpositionDefaults,
  type ThinkingMode,
} from './params.ts';
import { decodingParamsSchema, REASONING_EFFORT_BUDGETS } from './params-schema.ts';
import { randomSeed } from './rng.ts';

export { type DecodingDefaults, DecodingParamsError, type ModelFacts } from './model-facts.ts';

/** Parameters after the schema's parse: ranges checked, every field possibly null. */
type Parsed = ReturnType<typeof decodingParamsSchema.parse>;
type ParsedThinking = NonNullable<Parsed['thinking']>;

/** The four sampling fields, any of them unset. */
type SamplingFields = {
  temperature?: number | null;
  top_k?: number | null;
  top_p?: number | null;
  min_p?: number | null;
};

/** The prompt a request continues, when resolving it for the engine. */
export interface PromptFacts {
  length: number;
  /** The prompt ends inside an open think block. */
  startsInThinking: boolean;
}

function check(ok: boolean, message: string, param: string, code?: 'context_length_exceeded'): void {
  if (!ok) throw new DecodingParamsError(message, param, code);
}

/** A sampling configuration; each field from the first of `layers` that sets it. */
function sampling(...layers: (SamplingFields | undefined)[]): SamplingConfig {
  const pick = <K extends keyof SamplingFields>(key: K, fallback: number): number =>
    layers.find((l) => l?.[key] != null)?.[key] ?? fallback;
  return {
    temperature: pick('temperature', 1),
    topK: Math.max(pick('top_k', 0), 0),
    topP: pick('top_p', 1),
    minP: pick('min_p', 0),
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
  t: ParsedThinking,
  request: Parsed,
  defaults: DecodingDefaults,
): SamplingConfig {
  const { temperature, top_k, top_p, min_p } = defaults;
  const requestDefaults = { temperature, top_k, top_p, min_p };
  if (mode !== 'soft' && mode !== 'fuzzy') return sampling(t, request, requestDefaults);
  const soft = defaults.soft_thinking ?? {};
  const tau = mode === 'soft' ? (soft.temperature ?? MIXTURE_TEMPERATURE.soft) : MIXTURE_TEMPERATURE.fuzzy;
  const { temperature: _ignored, ...truncation } = request;
  return sampling(t, { ...truncation, temperature: tau }, soft, requestDefaults);
}

function noise(p: ParsedThinking['noise']): ResolvedNoise | null {
  if (!p) return null;
  switch (p.type) {
    case 'gaussian': {
      const scale = p.scale ?? 0;
      return scale === 0 ? null : { type: 'gaussian', scale };
    }
    case 'dirichlet':
      return { type: 'dirichlet', alpha: p.alpha ?? 1 };
    case 'gumbel':
      return { type: 'gumbel', temperature: p.temperature ?? 1 };
  }
}

function thinking(mode: ThinkingMode, request: Parsed, defaults: DecodingDefaults): ResolvedThinking {
  const t = request.thinking ?? {};
  const mixture = mode === 'soft' || mode === 'fuzzy';
  const stop = t.cold_stop === undefined ? (mixture ? defaults.soft_thinking?.cold_stop : null) : t.cold_stop;
  check(
    t.noise == null || mixture,
    'thinking.noise applies to soft and fuzzy thinking only',
    'thinking.noise',
  );
  return {
    mode,
    maxTokens:
      t.max_tokens ??
      (request.reasoning_effort ? REASONING_EFFORT_BUDGETS[request.reasoning_effort] : null) ??
      defaults.thinking_max_tokens ??
      512,
    sampling: thinkingSampling(mode, t, request, defaults),
    noise: noise(t.noise),
    coldStop: stop ? { entropyBelow: stop.entropy_below, patience: stop.patience } : null,
    trace: t.trace ?? false,
    traceTopK: t.trace_top_k ?? 5,
  };
}

function superposition(p: NonNullable<Parsed['superposition']>, facts: ModelFacts): ResolvedSuperposition {
  check(
    facts.modes.includes('superposed'),
    `superposition is not supported by ${facts.name}`,
    'superposition',
  );
  const d = superpositionDefaults(p.drafts);
  const candidates = p.candidates ?? d.candidates;
  check(
    candidates >= p.drafts,
    'superposition.candidates must be at least superposition.drafts',
    'superposition.candidates',
  );
  return {
    drafts: p.drafts,
    alpha: facts.hasNgram && (p.ngram ?? true) ? (p.alpha ?? d.alpha) : 0,
    temperature: p.temperature ?? d.temperature,
    candidates: Math.min(candidates, facts.tokenizerVocabSize),
    lambdas: [...(p.lambdas ?? DEFAULT_LAMBDAS)],
    penalty: p.penalty ?? 200,
  };
}

function logitBias(bias: Record<string, number> | null | undefined, vocab: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const [key, value] of Object.entries(bias ?? {})) {
    const id = Number(key);
    check(
      /^\d+$/.test(key) && id < vocab,
      `logit_bias: "${key}" is not a token id (0..${vocab - 1})`,
      'logit_bias',
    );
    out.set(id, value);
  }
  return out;
}

/**
 * Tokens a request may generate, thinking included (OpenAI's max_completion_tokens counts
 * reasoning tokens): its max_tokens, which must fit beside the prompt, else what is left of the
 * model's length, capped by the checkpoint's default when it names one (vLLM: the remaining
 * context, capped by generation_config's max_new_tokens).
 */
function generationBudget(
  asked: number | null | undefined,
  facts: ModelFacts,
  prompt: PromptFacts | undefined,
): number {
  const fallback = facts.defaults.max_tokens ?? Number.POSITIVE_INFINITY;
  if (!prompt) return asked ?? Math.min(fallback, facts.maxModelLen);
  check(prompt.length > 0, 'the prompt is empty', 'messages');
  const room = facts.maxModelLen - prompt.length;
  if (asked != null) {
    check(
      asked <= room,
      `max_tokens is ${asked}, but the prompt (${prompt.length} tokens) leaves ${Math.max(room, 0)} of the model's ${facts.maxModelLen} positions`,
      'max_tokens',
    );
    return asked;
  }
  check(
    room >= 1,
    `The prompt (${prompt.length} tokens) leaves no room in the model's ${facts.maxModelLen} positions`,
    'messages',
    'context_length_exceeded',
  );
  return Math.min(fallback, room);
}

/**
 * Validates a request's parameters against its model and fills every default: the one place
 * either happens. The engine calls it once per request, on the main thread, and hands the result
 * to its worker; the n decoders of the request share it (and its seed).
 *
 * @param prompt the prompt, to fit max_tokens (thinking included) into the model length
 * @throws DecodingParamsError naming the offending field
 * @example const resolved = resolveDecodingParams(request.params, facts, { length: 12, startsInThinking: false });
 */
export function resolveDecodingParams(
  input: unknown,
  facts: ModelFacts,
  prompt?: PromptFacts,
): ResolvedDecodingParams {
  const parsed = decodingParamsSchema.safeParse(input ?? {});
  if (!parsed.success) throw DecodingParamsError.fromZod(parsed.error);
  const p = parsed.data;
  const { defaults } = facts;
  const mode = resolveThinkingMode(p.thinking?.mode, facts);
  const logprobs = p.logprobs ?? false;
  const topLogprobs = p.top_logprobs ?? 0;
  check(topLogprobs === 0 || logprobs, 'top_logprobs needs logprobs: true', 'top_logprobs');
  const n = p.n ?? 1;
  const superposed = p.superposition ? superposition(p.superposition, facts) : null;
  if (superposed) {
    check(n === 1, 'superposition returns its drafts as the choices: n must be 1', 'n');
    check(!logprobs, 'logprobs are not available with superposition', 'logprobs');
    check(
      !p.min_tokens,
      'min_tokens is not available with superposition (drafts end at EOS among candidates)',
      'min_tokens',
    );
    check(
      !p.structured_output,
      'structured_output cannot be combined with superposition',
      'structured_output',
    );
  }
  const vocab = facts.tokenizerVocabSize;
  for (const id of p.stop_token_ids ?? []) {
    check(id < vocab, `stop_token_ids: ${id} is not a token id (0..${vocab - 1})`, 'stop_token_ids');
  }
  const thought = thinking(mode, p, defaults);
  const maxTokens = generationBudget(p.max_tokens, facts, prompt);
  const minTokens = p.min_tokens ?? 0;
  check(
    minTokens <= maxTokens,
    `min_tokens must be an integer in [0, max_tokens = ${maxTokens}], got ${minTokens}`,
    'min_tokens',
  );
  const stop = p.stop == null ? [] : typeof p.stop === 'string' ? [p.stop] : p.stop;
  return {
    sampling: sampling(p, defaults),
    presencePenalty: p.presence_penalty ?? 0,
    frequencyPenalty: p.frequency_penalty ?? 0,
    repetitionPenalty: p.repetition_penalty ?? defaults.repetition_penalty ?? 1,
    logitBias: logitBias(p.logit_bias, vocab),
    seed: p.seed ?? randomSeed(),
    stop: [...stop],
    stopTokenIds: [...new Set(p.stop_token_ids ?? [])],
    includeStopStr: p.include_stop_str_in_output ?? false,
    minTokens,
    ignoreEos: p.ignore_eos ?? false,
    text: {
      skipSpecialTokens: p.skip_special_tokens ?? true,
      spacesBetweenSpecialTokens: p.spaces_between_special_tokens ?? true,
    },
    maxTokens,
    logprobs,
    topLogprobs,
    n,
    thinking: thought,
    superposition: superposed,
    structuredOutput: p.structured_output ?? null,
  };
}
