import type { ThinkingMode } from '../../decoding/params.ts';
import { opensThinkBlock, thinkingReserve } from '../../decoding/think-block.ts';
import type { DecodingParams, ModelInfo } from '../../engine/types.ts';
import type { ApiConfig } from '../config.ts';
import { invalidRequest } from '../errors.ts';

/**
 * Maps a validated OpenAI-style body to the engine's `DecodingParams`, checking the limits that
 * need model facts (context length, supported modes, think markers, vocabulary).
 */

/** The fields of a parsed request body this module reads (chat and completions share them). */
export interface SamplingBody {
  n?: number | null;
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  repetition_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  seed?: number | null;
  stop?: string | string[] | null;
  stop_token_ids?: number[] | null;
  include_stop_str_in_output?: boolean | null;
  min_tokens?: number | null;
  ignore_eos?: boolean | null;
  skip_special_tokens?: boolean | null;
  spaces_between_special_tokens?: boolean | null;
  thinking?: DecodingParams['thinking'] | null;
  superposition?: DecodingParams['superposition'] | null;
}

/**
 * Whether the prompt ends inside an open think block of the model (decided on token ids, see
 * `opensThinkBlock`).
 */
export function promptOpensThinking(model: ModelInfo, promptIds: readonly number[]): boolean {
  const markers = model.manifest.thinking;
  if (!markers) return false;
  return opensThinkBlock(promptIds, model.tokenizer.idOf(markers.start), model.tokenizer.idOf(markers.end));
}

/**
 * The thinking mode a request asks for (its own, else the checkpoint's default), refused when the
 * checkpoint cannot think that way. `off` renders the chat template with `enable_thinking=false`;
 * `chat_template_kwargs.enable_thinking: false` (how vLLM and SGLang users switch Qwen3's
 * thinking off) means mode `off`, and contradicting it with a thinking mode is refused.
 */
export function thinkingModeFor(
  body: SamplingBody & { chat_template_kwargs?: Record<string, unknown> | null },
  model: ModelInfo,
): ThinkingMode {
  const enable = body.chat_template_kwargs?.enable_thinking;
  const asked = body.thinking?.mode ?? (enable === false ? 'off' : undefined);
  if (typeof enable === 'boolean' && asked !== undefined && (asked === 'off') === enable) {
    throw invalidRequest(
      `chat_template_kwargs.enable_thinking is ${enable} but thinking.mode is "${asked}": send one of them, or agree`,
      'chat_template_kwargs.enable_thinking',
    );
  }
  const markers = model.manifest.thinking;
  if (!markers) {
    if (asked && asked !== 'off') {
      throw invalidRequest(
        `thinking.mode "${asked}": the model ${model.name} has no think markers`,
        'thinking.mode',
        'unsupported_mode',
      );
    }
    return 'off';
  }
  const mode = asked ?? model.manifest.defaults.thinking_mode;
  if (mode !== 'off' && !model.manifest.modes.includes(mode)) {
    throw invalidRequest(
      `thinking.mode "${mode}" is not supported by ${model.name} (modes: ${model.manifest.modes.join(', ')})`,
      'thinking.mode',
      'unsupported_mode',
    );
  }
  return mode;
}

function check(ok: boolean, message: string, param: string): void {
  if (!ok) throw invalidRequest(message, param);
}

/**
 * Checks a request against the model and fills `DecodingParams`.
 * @param promptTokens length of the tokenized prompt
 * @param startsInThinking whether the prompt ends with the think-start marker
 * @param extra endpoint-specific fields (logprobs, top_logprobs)
 */
export function decodingParamsFor(
  body: SamplingBody,
  model: ModelInfo,
  config: ApiConfig,
  mode: ThinkingMode,
  promptTokens: number,
  startsInThinking: boolean,
  extra: { logprobs?: boolean; top_logprobs?: number } = {},
): DecodingParams {
  const sp = body.superposition ?? null;
  const n = body.n ?? 1;
  check(n <= config.maxN, `n must be at most ${config.maxN}, got ${n}`, 'n');
  if (sp) {
    check(
      model.manifest.modes.includes('superposed'),
      `superposition is not supported by ${model.name}`,
      'superposition',
    );
    check(
      sp.drafts <= config.maxDrafts,
      `superposition.drafts must be at most ${config.maxDrafts}, got ${sp.drafts}`,
      'superposition.drafts',
    );
    check(
      sp.candidates === undefined || sp.candidates >= sp.drafts,
      'superposition.candidates must be at least superposition.drafts',
      'superposition.candidates',
    );
    check(n === 1, 'superposition returns its drafts as the choices: n must be 1', 'n');
    check(!extra.logprobs, 'logprobs are not available with superposition', 'logprobs');
  }
  check(!extra.top_logprobs || extra.logprobs === true, 'top_logprobs needs logprobs: true', 'top_logprobs');
  const thinking = body.thinking ?? {};
  check(
    thinking.noise == null || mode === 'soft' || mode === 'fuzzy',
    'thinking.noise applies to soft and fuzzy thinking only',
    'thinking.noise',
  );
  const vocab = model.tokenizer.vocabSize;
  for (const key of Object.keys(body.logit_bias ?? {})) {
    const id = Number(key);
    check(
      /^\d+$/.test(key) && id < vocab,
      `logit_bias: "${key}" is not a token id (0..${vocab - 1})`,
      'logit_bias',
    );
  }
  for (const id of body.stop_token_ids ?? []) {
    check(id < vocab, `stop_token_ids: ${id} is not a token id (0..${vocab - 1})`, 'stop_token_ids');
  }
  check(
    !sp || !body.min_tokens,
    'min_tokens is not available with superposition (drafts end at EOS among candidates)',
    'min_tokens',
  );

  // Positions thinking may take: its budget plus the markers (as the engine counts).
  const thinkingBudget = thinkingReserve({
    startsInThinking,
    mayOpen: model.manifest.thinking !== null && !sp,
    mode,
    maxTokens: thinking.max_tokens ?? model.manifest.defaults.thinking_max_tokens,
  });
  const room = model.maxModelLen - promptTokens - thinkingBudget;
  if (body.max_tokens != null) {
    check(
      body.max_tokens <= room,
      `max_tokens is ${body.max_tokens}, but the prompt (${promptTokens} tokens)` +
        (thinkingBudget ? ` and the thinking budget (${thinkingBudget})` : '') +
        ` leave ${Math.max(room, 0)} of the model's ${model.maxModelLen} positions`,
      'max_tokens',
    );
  } else if (room < 1) {
    throw invalidRequest(
      `The prompt (${promptTokens} tokens)` +
        (thinkingBudget ? ` and the thinking budget (${thinkingBudget})` : '') +
        ` leave no room in the model's ${model.maxModelLen} positions`,
      thinkingBudget && promptTokens < model.maxModelLen ? 'thinking.max_tokens' : 'messages',
      'context_length_exceeded',
    );
  }
  const maxTokens = body.max_tokens ?? Math.min(model.manifest.defaults.max_tokens, room);

  const params: DecodingParams = {
    max_tokens: maxTokens,
    n,
    // cold_stop: absent keeps the checkpoint's default, null turns it off.
    thinking: { ...thinking, mode, noise: thinking.noise ?? null },
    superposition: sp,
  };
  const copy = <K extends keyof DecodingParams & keyof SamplingBody>(key: K) => {
    const value = body[key];
    if (value !== null && value !== undefined) params[key] = value as DecodingParams[K];
  };
  for (const key of [
    'temperature',
    'top_p',
    'top_k',
    'min_p',
    'presence_penalty',
    'frequency_penalty',
    'repetition_penalty',
    'logit_bias',
    'seed',
    'stop',
    'stop_token_ids',
    'include_stop_str_in_output',
    'min_tokens',
    'ignore_eos',
    'skip_special_tokens',
    'spaces_between_special_tokens',
  ] as const) {
    copy(key);
  }
  // Unset sampling fields stay unset: the engine fills them from the manifest's defaults, and soft
  // thinking tells a request's own truncation from a default one.
  if (extra.logprobs) params.logprobs = true;
  if (extra.top_logprobs) params.top_logprobs = extra.top_logprobs;
  return params;
}
