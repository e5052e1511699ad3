import type { ChatMessage } from '../../model/chat-template.ts';
import type { ChatMessageInput } from '../chat-completions/schema.ts';
import { unsupportedParameter } from '../errors.ts';

/**
 * Chat messages as the model's chat template sees them (shared by chat completions, the
 * WebSocket and /tokenize): `developer` is a system turn; a message's text parts are joined with
 * "\n", as vLLM joins them; earlier reasoning is not fed back; media parts are refused.
 */

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

/** @throws ApiError 400 naming a media part */
export function templateMessages(messages: readonly ChatMessageInput[]): ChatMessage[] {
  return messages.map((m, i) => ({
    role: m.role === 'developer' ? 'system' : m.role,
    content: messageText(m, i),
    ...(m.name !== undefined && { name: m.name }),
  }));
}
