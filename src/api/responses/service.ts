import type { DecodingFields } from '../../decoding/params-schema.ts';
import type { GenerateRequest, ModelInfo } from '../../engine/types.ts';
import type { ChatMessageInput } from '../chat-completions/schema.ts';
import { joinTextParts, renderChatPrompt } from '../common/chat-prompt.ts';
import { mapChunks } from '../common/chunk-mapper.ts';
import type { ApiContext } from '../common/context.ts';
import { decodingParams, promptOpensThinking, thinkingModeFor } from '../common/decoding.ts';
import type { Generation } from '../common/generation.ts';
import type { ContentStream } from '../common/output.ts';
import { findModel, newRequestId, readRequest } from '../common/request.ts';
import { resolveStructuredOutput } from '../common/resolve-structured-output.ts';
import type { SseFormat } from '../common/sse.ts';
import type { RequestedStructuredOutput } from '../common/structured-output.ts';
import { planTools, type ToolPlan, type ToolRequest } from '../common/tools.ts';
import { ApiError, invalidRequest, toApiError, unsupportedParameter } from '../errors.ts';
import { responseEventMapper, responseJson } from './output.ts';
import {
  type ResponseCreateRequest,
  type ResponseInputItem,
  responseCreateRequestSchema,
  type TextFormat,
  UNSUPPORTED_RESPONSES,
} from './schema.ts';

/**
 * The Responses API: its input items become chat messages rendered by the model's chat template
 * (instructions first, as a system turn; function calls as the assistant's tool_calls, their
 * outputs as tool messages, as vLLM builds them), decoded like a chat completion with one choice;
 * the output is a reasoning item, the message item and function_call items (output.ts).
 */

export interface PreparedResponse {
  body: ResponseCreateRequest;
  model: ModelInfo;
  request: GenerateRequest;
  choices: 1;
  superposed: false;
  created: number;
  ignored: string[];
  /** The tool-call parser's stream when the request has tools to call (as in chat). */
  contentStream?: () => ContentStream;
}

type Item<T extends string> = Extract<ResponseInputItem, { type: T }>;

/** One item's text parts, joined with "\n" as chat's are. */
function itemText(content: string | readonly { type: string }[], param: string): string {
  if (typeof content === 'string') return content;
  return joinTextParts(
    content,
    (part) =>
      part.type === 'input_text' || part.type === 'output_text'
        ? (part as unknown as { text: string }).text
        : undefined,
    param,
  );
}

/** A sent-back call's arguments must be JSON (the chat template gets them as an object). */
function callArguments(call: Item<'function_call'>, index: number): string {
  if (call.arguments.trim()) {
    try {
      JSON.parse(call.arguments);
    } catch {
      throw invalidRequest(`input[${index}].arguments is not valid JSON`, `input[${index}].arguments`);
    }
  }
  return call.arguments;
}

const misplacedReasoning = (param: string) =>
  invalidRequest('a reasoning item must come before an assistant message or a function call', param);

/**
 * Chat messages of a request: `instructions` as a system turn, then the input. A reasoning item
 * is the reasoning of the assistant turn that follows it; `function_call` items join the assistant
 * turn before them (its message, or the calls before them) as its tool_calls, as vLLM merges them;
 * a `function_call_output` is a tool message.
 * @throws ApiError 400 for items reverie cannot take (references, hosted tools' calls)
 */
export function responseMessages(body: ResponseCreateRequest): ChatMessageInput[] {
  const messages: ChatMessageInput[] = [];
  if (body.instructions) messages.push({ role: 'system', content: body.instructions });
  if (typeof body.input === 'string') return [...messages, { role: 'user', content: body.input }];
  let reasoning: string | null = null;
  // The assistant turn that calls may still join: the last message, while only calls followed it.
  let turn: ChatMessageInput | null = null;
  body.input.forEach((item, i) => {
    if (item.type === 'reasoning') {
      const r = item as Item<'reasoning'>;
      reasoning = (reasoning ?? '') + (r.content ?? []).map((c) => c.text).join('');
      turn = null;
      return;
    }
    if (item.type === 'function_call') {
      const call = item as Item<'function_call'>;
      const toolCall = {
        id: call.call_id,
        type: 'function' as const,
        function: { name: call.name, arguments: callArguments(call, i) },
      };
      if (turn && reasoning === null) {
        turn.tool_calls = [...(turn.tool_calls ?? []), toolCall];
        return;
      }
      turn = {
        role: 'assistant',
        content: null,
        tool_calls: [toolCall],
        ...(reasoning !== null && { reasoning }),
      };
      messages.push(turn);
      reasoning = null;
      return;
    }
    if (reasoning !== null && item.type !== undefined && item.type !== 'message') {
      throw misplacedReasoning(`input[${i}]`);
    }
    if (item.type === 'function_call_output') {
      const out = item as Item<'function_call_output'>;
      messages.push({
        role: 'tool',
        tool_call_id: out.call_id,
        content: itemText(out.output, `input[${i}].output`),
      });
      turn = null;
      return;
    }
    if (!('role' in item)) {
      throw unsupportedParameter(`input[${i}]`, `is a ${item.type} item: not supported by /v1/responses`);
    }
    const m = item as Extract<ResponseInputItem, { role: string }>;
    if (reasoning !== null && m.role !== 'assistant') {
      throw misplacedReasoning(`input[${i}]`);
    }
    const message: ChatMessageInput = {
      role: m.role,
      content: itemText(m.content, `input[${i}].content`),
      ...(reasoning !== null && { reasoning }),
    };
    messages.push(message);
    turn = m.role === 'assistant' ? message : null;
    reasoning = null;
  });
  if (reasoning !== null) {
    throw misplacedReasoning('input');
  }
  return messages;
}

/**
 * Chat's parameter names in an error, as the Responses API names them: a tool's fields are flat,
 * and the chat messages (which the template may refuse) come from `input`.
 */
function responsesParam(err: unknown): unknown {
  if (!(err instanceof ApiError) || !err.param) return err;
  const param = err.param
    .replace(/^(tools\[\d+\]|tool_choice)\.function\./, '$1.')
    .replace(/^messages(\[.*)?$/, 'input');
  return param === err.param ? err : new ApiError(err.code, err.message, param, err.headers);
}

/**
 * The request's function tools as chat's planTools takes them (chat nests each under `function`).
 * @throws ApiError 400 naming a tool reverie cannot run (hosted tools)
 */
function planResponseTools(
  body: ResponseCreateRequest,
  model: ModelInfo,
  parser: string,
): { plan: ToolPlan; tools: ToolRequest['tools'] } {
  const tools =
    body.tools?.map((tool, i) => {
      if (tool.type !== 'function') {
        throw unsupportedParameter(
          `tools[${i}]`,
          `is a ${tool.type} tool: reverie serves function tools only`,
        );
      }
      const { type, ...fn } = tool as Extract<typeof tool, { type: 'function' }>;
      return { type, function: fn };
    }) ?? null;
  // vLLM: without tools, `auto` is `none` (chat's planTools refuses a tool_choice without tools).
  const choice = !tools?.length && body.tool_choice === 'auto' ? 'none' : body.tool_choice;
  try {
    const plan = planTools(
      {
        tools,
        tool_choice:
          typeof choice === 'object' && choice
            ? { type: 'function', function: { name: choice.name } }
            : choice,
        parallel_tool_calls: body.parallel_tool_calls,
      },
      model,
      parser,
    );
    return { plan, tools };
  } catch (err) {
    throw responsesParam(err);
  }
}

/** `text.format` as the constraint it asks for (text: none). */
function textFormatConstraint(format: TextFormat | null | undefined): RequestedStructuredOutput | null {
  if (format?.type === 'json_object') return { param: 'text.format', spec: { type: 'json_object' } };
  if (format?.type === 'json_schema')
    return { param: 'text.format', spec: { type: 'json_schema', schema: format.schema } };
  return null;
}

/** Fields accepted with no effect, when set (the ignored-fields header lists them). */
function ignoredSettings(body: ResponseCreateRequest): string[] {
  const out: string[] = [];
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
export async function prepareResponse(
  raw: unknown,
  ctx: ApiContext,
  requestId?: string,
): Promise<PreparedResponse> {
  const { body, ignored } = readRequest(raw, responseCreateRequestSchema, UNSUPPORTED_RESPONSES);
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
  const { plan, tools } = planResponseTools(body, model, ctx.config.toolCallParser);
  const format = textFormatConstraint(body.text?.format);
  if (format && plan.constraint) {
    throw invalidRequest(
      'tool_choice forces a call already: it cannot be combined with a JSON text.format',
      'text.format',
      'conflicting_parameters',
    );
  }
  const chat = {
    messages: responseMessages(body),
    tools,
    chat_template_kwargs: body.chat_template_kwargs,
    reasoning_effort: body.reasoning?.effort,
  };
  let text: string;
  try {
    text = renderChatPrompt(model, chat, mode, 'use /v1/completions');
  } catch (err) {
    throw responsesParam(err);
  }
  const prompt = model.tokenizer.encode(text, { specialTokens: true });
  return {
    body,
    model,
    request: {
      id: newRequestId('resp', requestId),
      model: model.name,
      prompt,
      startsInThinking: promptOpensThinking(model, prompt),
      params: decodingParams(fields, ctx.config, mode, {
        structured_output: await resolveStructuredOutput(
          { structured_outputs: body.structured_outputs },
          format ?? plan.constraint,
        ),
      }),
    },
    choices: 1,
    superposed: false,
    created: Math.floor(Date.now() / 1000),
    ignored: [...ignored, ...ignoredSettings(body)],
    ...(plan.contentStream && { contentStream: plan.contentStream }),
  };
}

/** The whole response object once the model finished. */
export async function responseObject(prepared: PreparedResponse, generation: Generation) {
  return responseJson(prepared, await generation.collect());
}

/**
 * The Responses API's events; a failure after the first event ends them with an `error` event
 * numbered like the others (OpenAI's ResponseErrorEvent).
 */
export async function* responseEvents(prepared: PreparedResponse, generation: Generation) {
  const mapper = responseEventMapper(prepared);
  try {
    yield* mapChunks(generation, mapper);
  } catch (err) {
    yield mapper.error(toApiError(err));
  }
}

/** Responses events are named (`event: <type>`) and the stream ends with its last event, no `[DONE]`. */
export const RESPONSES_SSE: SseFormat = {
  event: (chunk) => (chunk as { type: string }).type,
  done: false,
};
