import type { GenerateRequest, ModelInfo } from '../../engine/types.ts';
import { renderChatPrompt } from '../common/chat-prompt.ts';
import { mapChunks } from '../common/chunk-mapper.ts';
import type { ApiContext } from '../common/context.ts';
import { decodingParams, promptOpensThinking, thinkingModeFor } from '../common/decoding.ts';
import type { Generation } from '../common/generation.ts';
import type { ContentStream } from '../common/output.ts';
import { findModel, newRequestId, readRequest } from '../common/request.ts';
import { resolveStructuredOutput } from '../common/resolve-structured-output.ts';
import { planTools } from '../common/tools.ts';
import { invalidRequest } from '../errors.ts';
import { chatChunkMapper, chatCompletionJson } from './output.ts';
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
  /** Request fields set aside (unknown, or known and without effect): the X-Reverie-Ignored-Fields header. */
  ignored: string[];
  /** Each choice's content stream: the tool-call parser when the request has tools to call. */
  contentStream?: () => ContentStream;
}

/**
 * Validates a raw body against the schema and the model, renders and tokenizes the prompt, and
 * validates its structured output (its own, or the one a forcing tool_choice adds) off the worker.
 * @throws ApiError (400, 404)
 */
export async function prepareChat(raw: unknown, ctx: ApiContext, requestId?: string): Promise<PreparedChat> {
  const { body, ignored } = readRequest(raw, chatCompletionRequestSchema, UNSUPPORTED_CHAT);
  if (
    body.max_tokens != null &&
    body.max_completion_tokens != null &&
    body.max_tokens !== body.max_completion_tokens
  ) {
    throw invalidRequest('max_tokens and max_completion_tokens differ: send one', 'max_completion_tokens');
  }
  const model = findModel(ctx.engine, body.model);
  const mode = thinkingModeFor(body, model);
  const tools = planTools(body, model, ctx.config.toolCallParser);
  const text = renderChatPrompt(model, body, mode, 'use /v1/completions');
  const prompt = model.tokenizer.encode(text, { specialTokens: true });
  const startsInThinking = promptOpensThinking(model, prompt);
  const params = decodingParams(body, ctx.config, mode, {
    max_tokens: body.max_completion_tokens ?? body.max_tokens,
    logprobs: body.logprobs ?? false,
    top_logprobs: body.top_logprobs ?? 0,
    structured_output: await resolveStructuredOutput(body, tools.constraint),
  });
  const superposed = params.superposition != null;
  return {
    body,
    model,
    request: { id: newRequestId('chatcmpl', requestId), model: model.name, prompt, startsInThinking, params },
    choices: superposed ? params.superposition!.drafts : (params.n ?? 1),
    superposed,
    created: Math.floor(Date.now() / 1000),
    ignored,
    ...(tools.contentStream && { contentStream: tools.contentStream }),
  };
}

/** The whole `chat.completion` once every choice has finished. */
export async function chatCompletion(prepared: PreparedChat, generation: Generation) {
  return chatCompletionJson(prepared, await generation.collect());
}

/** `chat.completion.chunk`s for SSE (and their usage chunk when asked). */
export function chatChunks(prepared: PreparedChat, generation: Generation) {
  return mapChunks(generation, chatChunkMapper(prepared));
}
