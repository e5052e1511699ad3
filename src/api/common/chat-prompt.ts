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
  add_generation_prompt?: boolean | null;
  continue_final_message?: boolean | null;
  chat_template_kwargs?: Record<string, unknown> | null;
  reasoning_effort?: string | null;
}

function messageText(m: ChatMessageInput, index: number): string {
  if (m.content === null) return '';
  if (typeof m.content === 'string') return m.content;
  return m.content
    .map((part, j) => {
      if (part.type === 'text') return part.text;
      throw unsupportedParameter(
        `messages[${index}].content[${j}]`,
        `is an ${part.type} part: the served models take text only`,
      );
    })
    .join('\n');
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
 * Template messages: `developer` is a system turn; a message's text parts are joined with "\n",
 * as vLLM joins them; an assistant turn's reasoning goes to the template; media parts are refused.
 * @throws ApiError 400 naming a media part
 */
export function templateMessages(messages: readonly ChatMessageInput[]): ChatMessage[] {
  return messages.map((m, i) => ({
    role: m.role === 'developer' ? 'system' : m.role,
    content: messageText(m, i),
    ...(m.name !== undefined && { name: m.name }),
    ...reasoningOf(m, i),
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
 * continue_final_message, chat_template_kwargs as template variables, `enable_thinking` from the
 * request's thinking mode (see `thinkingModeFor`).
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
      },
    });
  } catch (err) {
    throw toApiError(err);
  }
}
