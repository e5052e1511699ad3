import type { DecodingFields } from '../../decoding/params-schema.ts';
import type { GenerateRequest, ModelInfo } from '../../engine/types.ts';
import type { ChatMessageInput } from '../chat-completions/schema.ts';
import { renderChatPrompt } from '../common/chat-prompt.ts';
import { mapChunks } from '../common/chunk-mapper.ts';
import type { ApiContext } from '../common/context.ts';
import { decodingParams, promptOpensThinking, thinkingModeFor } from '../common/decoding.ts';
import type { Generation } from '../common/generation.ts';
import { findModel, ignoredOptions, newRequestId, parseWith, readBody } from '../common/request.ts';
import type { SseFormat } from '../common/sse.ts';
import { invalidRequest, unsupportedParameter } from '../errors.ts';
import { responseEventMapper, responseJson } from './output.ts';
import {
  type ResponseCreateRequest,
  type ResponseInputItem,
  responseCreateRequestSchema,
  UNSUPPORTED_RESPONSES,
} from './schema.ts';

/**
 * The Responses API: its input items become chat messages rendered by the model's chat template
 * (instructions first, as a system turn), decoded like a chat completion with one choice, and the
 * output is a reasoning item and a message item (output.ts).
 */

export interface PreparedResponse {
  body: ResponseCreateRequest;
  model: ModelInfo;
  request: GenerateRequest;
  choices: 1;
  superposed: false;
  created: number;
  ignored: string[];
}

/** One item's text parts, joined with "\n" as chat's are. */
function itemText(content: Extract<ResponseInputItem, { role: string }>['content'], index: number): string {
  if (typeof content === 'string') return content;
  return content
    .map((part, j) => {
      if (part.type === 'input_text' || part.type === 'output_text') return (part as { text: string }).text;
      throw unsupportedParameter(
        `input[${index}].content[${j}]`,
        `is an ${part.type} part: the served models take text only`,
      );
    })
    .join('\n');
}

/**
 * Chat messages of a request: `instructions` as a system turn, then the input. A reasoning item
 * is the reasoning of the assistant message that follows it (its text goes to the chat template).
 * @throws ApiError 400 for items reverie cannot take yet (function calls, references)
 */
export function responseMessages(body: ResponseCreateRequest): ChatMessageInput[] {
  const messages: ChatMessageInput[] = [];
  if (body.instructions) messages.push({ role: 'system', content: body.instructions });
  if (typeof body.input === 'string') return [...messages, { role: 'user', content: body.input }];
  let reasoning: string | null = null;
  body.input.forEach((item, i) => {
    if (item.type === 'reasoning') {
      const r = item as Extract<ResponseInputItem, { type: 'reasoning' }>;
      reasoning = (reasoning ?? '') + (r.content ?? []).map((c) => c.text).join('');
      return;
    }
    if (!('role' in item)) {
      throw unsupportedParameter(`input[${i}]`, `is a ${item.type} item: not supported by /v1/responses yet`);
    }
    const m = item as Extract<ResponseInputItem, { role: string }>;
    if (reasoning !== null && m.role !== 'assistant') {
      throw invalidRequest('a reasoning item must come before an assistant message', `input[${i}]`);
    }
    messages.push({
      role: m.role,
      content: itemText(m.content, i),
      ...(reasoning !== null && { reasoning }),
    });
    reasoning = null;
  });
  if (reasoning !== null) {
    throw invalidRequest('a reasoning item must come before an assistant message', 'input');
  }
  return messages;
}

/** Fields accepted with no effect, when set (the ignored-fields header lists them). */
function ignoredSettings(body: ResponseCreateRequest): string[] {
  const out = ignoredOptions(body);
  if (body.store) out.push('store');
  if (body.reasoning?.summary || body.reasoning?.generate_summary) out.push('reasoning.summary');
  if (body.text?.verbosity) out.push('text.verbosity');
  for (const name of body.include ?? []) out.push(`include.${name}`);
  return out;
}

/**
 * Validates a Responses request, renders and tokenizes its prompt.
 * @throws ApiError (400, 404)
 */
export function prepareResponse(raw: unknown, ctx: ApiContext, requestId?: string): PreparedResponse {
  const read = readBody(raw, responseCreateRequestSchema, UNSUPPORTED_RESPONSES);
  const body = parseWith(responseCreateRequestSchema, read.body);
  if (body.stream_options && !body.stream) {
    throw invalidRequest('stream_options is only allowed when stream is true', 'stream_options');
  }
  const model = findModel(ctx.engine, body.model);
  const fields: Partial<DecodingFields> = {
    max_tokens: body.max_output_tokens,
    temperature: body.temperature,
    top_p: body.top_p,
    top_k: body.top_k,
    min_p: body.min_p,
    repetition_penalty: body.repetition_penalty,
    seed: body.seed,
    thinking: body.thinking,
    reasoning_effort: body.reasoning?.effort,
  };
  const mode = thinkingModeFor({ ...fields, chat_template_kwargs: body.chat_template_kwargs }, model);
  const chat = {
    messages: responseMessages(body),
    chat_template_kwargs: body.chat_template_kwargs,
    reasoning_effort: body.reasoning?.effort,
  };
  const prompt = model.tokenizer.encode(renderChatPrompt(model, chat, mode, 'use /v1/completions'), {
    specialTokens: true,
  });
  return {
    body,
    model,
    request: {
      id: newRequestId('resp', requestId),
      model: model.name,
      prompt,
      startsInThinking: promptOpensThinking(model, prompt),
      params: decodingParams(fields, ctx.config, mode),
    },
    choices: 1,
    superposed: false,
    created: Math.floor(Date.now() / 1000),
    ignored: [...read.ignored, ...ignoredSettings(body)],
  };
}

/** The whole response object once the model finished. */
export async function responseObject(prepared: PreparedResponse, generation: Generation) {
  return responseJson(prepared, await generation.collect());
}

/** The Responses API's events. */
export function responseEvents(prepared: PreparedResponse, generation: Generation) {
  return mapChunks(generation, responseEventMapper(prepared));
}

/** Responses events are named (`event: <type>`) and the stream ends with its last event, no `[DONE]`. */
export const RESPONSES_SSE: SseFormat = {
  event: (chunk) => (chunk as { type: string }).type,
  error: (err) => {
    const { message, type, param, code } = err.toJSON().error;
    return { event: 'error', data: { type: 'error', message, code: code ?? type, param } };
  },
  done: false,
};
