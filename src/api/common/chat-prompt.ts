import type { ThinkingMode } from '../../decoding/params.ts';
import type { ModelInfo } from '../../engine/types.ts';
import { type ChatMessage, RESERVED_VARIABLES } from '../../model/chat-template.ts';
import type { ChatMessageInput } from '../chat-completions/schema.ts';
import { invalidRequest, toApiError, unsupportedParameter } from '../errors.ts';

/**
 * A chat as the model's chat template renders it, shared by chat completions (and the WebSocket,
 * which prepares its chats the same way) and /tokenize, so /tokenize shows exactly the prompt a
 * chat completion with the same fields would run.
 */

/** The request fields that shape a chat prompt. */
export interface ChatPromptFields {
  messages: readonly ChatMessageInput[];
  tools?: readonly unknown[] | null;
  add_generation_prompt?: boolean | null;
  continue_final_message?: boolean | null;
  chat_template_kwargs?: Record<string, unknown> | null;
  reasoning_effort?: string | null;
}

/**
 * Content parts as one text, joined with "\n" as vLLM joins them; `text` reads a text part (chat's
 * `text`, the Responses API's `input_text`/`output_text`) and gives undefined for any other, which
 * is a 400 naming `param[j]`.
 */
export function joinTextParts<P extends { type: string }>(
  parts: readonly P[],
  text: (part: P) => string | undefined,
  param: string,
): string {
  return parts
    .map((part, j) => {
      const t = text(part);
      if (t !== undefined) return t;
      throw unsupportedParameter(
        `${param}[${j}]`,
        `is an ${part.type} part: the served models take text only`,
      );
    })
    .join('\n');
}

function messageText(m: ChatMessageInput, index: number): string {
  if (m.content == null) return '';
  if (typeof m.content === 'string') return m.content;
  return joinTextParts(
    m.content,
    (part) => (part.type === 'text' ? part.text : undefined),
    `messages[${index}].content`,
  );
}

/**
 * An assistant turn's reasoning, sent as `reasoning` (vLLM) or `reasoning_content` (SGLang):
 * the template gets it under both names, as HF templates read one or the other (Qwen3:
 * `reasoning_content`).
 * @throws ApiError 400 when the two names disagree
 */
function reasoningOf(m: ChatMessageInput, index: number): { reasoning?: string; reasoning_content?: string } {
  const text = m.reasoning ?? m.reasoning_content;
  if (text == null) return {};
  if (m.reasoning != null && m.reasoning_content != null && m.reasoning !== m.reasoning_content) {
    throw invalidRequest(
      'reasoning and reasoning_content differ: send one of them',
      `messages[${index}].reasoning_content`,
    );
  }
  if (m.role !== 'assistant') {
    throw invalidRequest('only assistant messages carry reasoning', `messages[${index}].reasoning`);
  }
  return { reasoning: text, reasoning_content: text };
}

/**
 * A call's arguments as Hugging Face templates read them: an object (Llama 3.1's writes
 * `arguments | tojson`), parsed from the JSON text OpenAI clients send, as vLLM does.
 */
function callArguments(text: string, param: string): unknown {
  if (!text) return {}; // as vLLM: no arguments are an empty object
  try {
    return JSON.parse(text);
  } catch {
    throw invalidRequest(`${param} is not valid JSON`, param);
  }
}

/** The tool fields of message `i`, as templates read them. */
function toolFieldsOf(m: ChatMessageInput, i: number): Record<string, unknown> {
  if (m.tool_calls?.length && m.role !== 'assistant')
    throw invalidRequest('only assistant messages carry tool_calls', `messages[${i}].tool_calls`);
  if (m.role === 'tool' && m.tool_call_id == null)
    throw invalidRequest('a tool message needs the tool_call_id it answers', `messages[${i}].tool_call_id`);
  return {
    ...(m.tool_calls?.length && {
      tool_calls: m.tool_calls.map((call, j) => ({
        id: call.id,
        type: call.type,
        function: {
          name: call.function.name,
          arguments: callArguments(
            call.function.arguments,
            `messages[${i}].tool_calls[${j}].function.arguments`,
          ),
        },
      })),
    }),
    ...(m.tool_call_id != null && { tool_call_id: m.tool_call_id }),
  };
}

/**
 * Template messages: `developer` is a system turn; a message's text parts are joined with "\n",
 * as vLLM joins them; an assistant turn's reasoning goes to the template; media parts are refused;
 * assistant `tool_calls` (arguments as objects) and a tool turn's `tool_call_id` go to the template.
 * @throws ApiError 400 naming a media part or a malformed tool or reasoning field
 */
export function templateMessages(messages: readonly ChatMessageInput[]): ChatMessage[] {
  return messages.map((m, i) => ({
    role: m.role === 'developer' ? 'system' : m.role,
    // A turn of calls without text is "" as vLLM passes it (Qwen3's template concatenates it).
    content: messageText(m, i),
    ...(m.name !== undefined && { name: m.name }),
    ...reasoningOf(m, i),
    ...toolFieldsOf(m, i),
  }));
}

/** vLLM's rules for the template fields: one of the two prompt endings, no reserved kwargs. */
function checkGenerationPrompt(body: ChatPromptFields, continueFinal: boolean): void {
  if (continueFinal && (body.add_generation_prompt ?? true)) {
    throw invalidRequest(
      'Cannot set both continue_final_message and add_generation_prompt to true (send add_generation_prompt: false)',
      'continue_final_message',
    );
  }
  if (continueFinal && body.messages.at(-1)?.role !== 'assistant') {
    throw invalidRequest('continue_final_message needs an assistant message last', 'continue_final_message');
  }
  for (const key of Object.keys(body.chat_template_kwargs ?? {})) {
    if (RESERVED_VARIABLES.includes(key)) {
      throw invalidRequest(
        `chat_template_kwargs.${key} is set by the server${key === 'add_generation_prompt' ? ': use the add_generation_prompt field' : ''}`,
        `chat_template_kwargs.${key}`,
      );
    }
  }
}

/**
 * Renders the chat with the model's template: add_generation_prompt (default true) or
 * continue_final_message, chat_template_kwargs as template variables, `tools` (when any),
 * `enable_thinking` from the request's thinking mode (see `thinkingModeFor`).
 * @param withoutTemplate what the 400 suggests when the model has no chat template
 * @throws ApiError 400
 */
export function renderChatPrompt(
  model: ModelInfo,
  body: ChatPromptFields,
  mode: ThinkingMode,
  withoutTemplate: string,
): string {
  if (!model.chatTemplate) {
    throw invalidRequest(`The model ${model.name} has no chat template: ${withoutTemplate}`, 'model');
  }
  const continueFinal = body.continue_final_message ?? false;
  checkGenerationPrompt(body, continueFinal);
  const messages = templateMessages(body.messages);
  try {
    return model.chatTemplate.render(messages, {
      addGenerationPrompt: body.add_generation_prompt ?? true,
      continueFinalMessage: continueFinal,
      enableThinking: mode !== 'off',
      // vLLM hands reasoning_effort to the template too (gpt-oss reads it); chat_template_kwargs win.
      variables: {
        ...(body.reasoning_effort != null && { reasoning_effort: body.reasoning_effort }),
        ...body.chat_template_kwargs,
        ...(body.tools?.length && { tools: body.tools }),
      },
    });
  } catch (err) {
    throw toApiError(err);
  }
}
