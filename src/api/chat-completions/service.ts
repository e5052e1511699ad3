import type { EngineEvent, GenerateRequest, ModelInfo } from '../../engine/types.ts';
import { renderChatPrompt } from '../common/chat-prompt.ts';
import { chunkBase, collectChoices, traceJson, usageJson } from '../common/collect.ts';
import type { ApiContext } from '../common/context.ts';
import { decodingParams, promptOpensThinking, thinkingModeFor } from '../common/decoding.ts';
import { findModel, newRequestId, parseWith, rejectUnsupported } from '../common/request.ts';
import { chatLogprob } from '../common/tokens.ts';
import { invalidRequest, toApiError } from '../errors.ts';
import { type ChatCompletionRequest, chatCompletionRequestSchema, UNSUPPORTED_CHAT } from './schema.ts';

/**
 * Chat completions: validate, render the conversation with the model's chat template, tokenize,
 * and turn the engine's events into `chat.completion` JSON or `chat.completion.chunk`s.
 */

/** A validated request, ready to submit. */
export interface PreparedChat {
  body: ChatCompletionRequest;
  model: ModelInfo;
  request: GenerateRequest;
  /** Choices the response will hold (n, or the superposed drafts). */
  choices: number;
  superposed: boolean;
  created: number;
}

/**
 * Validates a raw body against the schema and the model, renders and tokenizes the prompt.
 * @throws ApiError (400, 404)
 */
export function prepareChat(raw: unknown, ctx: ApiContext, requestId?: string): PreparedChat {
  const body = parseWith(chatCompletionRequestSchema, rejectUnsupported(raw, UNSUPPORTED_CHAT));
  if (body.stream_options && !body.stream) {
    throw invalidRequest('stream_options is only allowed when stream is true', 'stream_options');
  }
  if (
    body.max_tokens != null &&
    body.max_completion_tokens != null &&
    body.max_tokens !== body.max_completion_tokens
  ) {
    throw invalidRequest('max_tokens and max_completion_tokens differ: send one', 'max_completion_tokens');
  }
  const model = findModel(ctx.engine, body.model);
  const mode = thinkingModeFor(body, model);
  const text = renderChatPrompt(model, body, mode, 'use /v1/completions');
  const prompt = model.tokenizer.encode(text, { specialTokens: true });
  const startsInThinking = promptOpensThinking(model, prompt);
  const params = decodingParams(body, ctx.config, mode, {
    max_tokens: body.max_completion_tokens ?? body.max_tokens,
    logprobs: body.logprobs ?? false,
    top_logprobs: body.top_logprobs ?? 0,
  });
  const superposed = params.superposition != null;
  return {
    body,
    model,
    request: { id: newRequestId('chatcmpl', requestId), model: model.name, prompt, startsInThinking, params },
    choices: superposed ? params.superposition!.drafts : (params.n ?? 1),
    superposed,
    created: Math.floor(Date.now() / 1000),
  };
}

/** The whole `chat.completion` once every choice has finished. */
export async function chatCompletion(prepared: PreparedChat, events: AsyncIterable<EngineEvent>) {
  const { choices, usage } = await collectChoices(events, prepared.choices, prepared.superposed);
  const tokenizer = prepared.model.tokenizer;
  const traced = prepared.body.thinking?.trace === true;
  return {
    id: prepared.request.id,
    object: 'chat.completion' as const,
    created: prepared.created,
    model: prepared.model.name,
    choices: choices.map((c) => ({
      index: c.index,
      message: {
        role: 'assistant' as const,
        content: c.content,
        reasoning_content: c.reasoning || null,
      },
      logprobs: prepared.body.logprobs
        ? { content: c.logprobs.map((lp) => chatLogprob(tokenizer, lp)) }
        : null,
      finish_reason: c.finishReason,
      ...(traced && { reasoning_trace: c.trace.map(traceJson) }),
    })),
    usage: usageJson(usage),
  };
}

/** `chat.completion.chunk`s for SSE (and their usage chunk when asked). */
export async function* chatChunks(prepared: PreparedChat, events: AsyncIterable<EngineEvent>) {
  const base = chunkBase(prepared, 'chat.completion.chunk');
  const tokenizer = prepared.model.tokenizer;
  const wantLogprobs = prepared.body.logprobs === true;
  const choice = (index: number, delta: Record<string, string>, extra: Record<string, unknown> = {}) => ({
    ...base,
    choices: [{ index, delta, logprobs: null, finish_reason: null, ...extra }],
  });
  for (let i = 0; i < prepared.choices; i++) yield choice(i, { role: 'assistant', content: '' });
  for await (const ev of events) {
    switch (ev.type) {
      case 'reasoning':
        if (!ev.text && !ev.trace) break;
        yield choice(
          ev.choice,
          { reasoning_content: ev.text },
          ev.trace ? { reasoning_trace: [traceJson(ev.trace)] } : {},
        );
        break;
      case 'content':
        if (!ev.text && !(wantLogprobs && ev.logprobs?.length)) break;
        yield choice(
          ev.choice,
          { content: ev.text },
          wantLogprobs && ev.logprobs
            ? { logprobs: { content: ev.logprobs.map((lp) => chatLogprob(tokenizer, lp)) } }
            : {},
        );
        break;
      case 'finish':
        yield choice(ev.choice, {}, { finish_reason: ev.reason });
        break;
      case 'done':
        if (prepared.body.stream_options?.include_usage)
          yield { ...base, choices: [], usage: usageJson(ev.usage) };
        return;
      case 'error':
        throw toApiError(ev.error);
      default:
        break;
    }
  }
}
