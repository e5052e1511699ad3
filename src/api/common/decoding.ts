import { resolveThinkingMode } from '../../decoding/model-facts.ts';
import type { ThinkingMode } from '../../decoding/params.ts';
import { type DecodingFields, decodingFields } from '../../decoding/params-schema.ts';
import { opensThinkBlock } from '../../decoding/think-block.ts';
import type { DecodingParams, ModelInfo } from '../../engine/types.ts';
import type { ApiConfig } from '../config.ts';
import { invalidRequest, toApiError } from '../errors.ts';

/**
 * From a parsed request body to the engine's `DecodingParams`. The body's decoding fields are the
 * decoding schema's own (params-schema.ts), so this is a pick plus the server's policy limits
 * (REVERIE_MAX_N, REVERIE_MAX_DRAFTS); the engine resolves the result against the model, once.
 */

const DECODING_KEYS = Object.keys(decodingFields) as (keyof DecodingFields)[];

/**
 * Whether the prompt ends inside an open think block of the model (decided on token ids, see
 * `opensThinkBlock`).
 */
export function promptOpensThinking(model: ModelInfo, promptIds: readonly number[]): boolean {
  return opensThinkBlock(promptIds, model.facts.thinkStartId, model.facts.thinkEndId);
}

/**
 * The thinking mode a request asks for (its own, else the checkpoint's default), refused when the
 * checkpoint cannot think that way. `off` renders the chat template with `enable_thinking=false`;
 * `chat_template_kwargs.enable_thinking: false` (how vLLM and SGLang users switch Qwen3's
 * thinking off) means mode `off`, and contradicting it with a thinking mode is refused.
 */
export function thinkingModeFor(
  body: Partial<DecodingFields> & { chat_template_kwargs?: Record<string, unknown> | null },
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
  try {
    return resolveThinkingMode(asked, model.facts);
  } catch (err) {
    throw toApiError(err);
  }
}

/**
 * The engine's parameters of a request body: its decoding fields, the thinking mode the prompt
 * was rendered for, and the endpoint's own spelling of logprobs.
 * @throws ApiError 400 beyond the server's limits on n and superposition.drafts
 */
export function decodingParams(
  body: Partial<DecodingFields>,
  config: ApiConfig,
  mode: ThinkingMode,
  extra: Pick<DecodingParams, 'logprobs' | 'top_logprobs' | 'max_tokens' | 'structured_output'> = {},
): DecodingParams {
  const n = body.n ?? 1;
  if (n > config.maxN) throw invalidRequest(`n must be at most ${config.maxN}, got ${n}`, 'n');
  const drafts = body.superposition?.drafts ?? 0;
  if (drafts > config.maxDrafts) {
    throw invalidRequest(
      `superposition.drafts must be at most ${config.maxDrafts}, got ${drafts}`,
      'superposition.drafts',
    );
  }
  const params: DecodingParams = {};
  for (const key of DECODING_KEYS) {
    if (body[key] != null) (params as Record<string, unknown>)[key] = body[key];
  }
  params.thinking = { ...body.thinking, mode };
  for (const [key, value] of Object.entries(extra)) {
    if (value != null) (params as Record<string, unknown>)[key] = value;
  }
  return params;
}
