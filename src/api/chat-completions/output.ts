import type { FinishReason } from '../../engine/types.ts';
import type { ChunkMapper } from '../common/chunk-mapper.ts';
import type { ChoiceOutput, OutputAccumulator, OutputDelta } from '../common/output.ts';
import { chunkBase, responseHead, traceJson, usageJson } from '../common/shapes.ts';
import { chatLogprob } from '../common/tokens.ts';
import type { DeltaToolCall, ToolCall } from '../tool-calls/types.ts';
import type { PreparedChat } from './service.ts';

/** The chat completion's response shapes from the request's output: the JSON and the chunks. */

/** A choice that stopped after calling tools finishes with `tool_calls` (cut short: still `length`). */
export function chatFinishReason(choice: ChoiceOutput, reason: FinishReason | null = choice.finishReason) {
  return reason === 'stop' && choice.toolCalls.length > 0 ? 'tool_calls' : reason;
}

/** A choice's calls, whole: the streamed pieces joined (the JSON and the stream agree by construction). */
export function joinToolCalls(pieces: readonly DeltaToolCall[]): ToolCall[] {
  const calls: ToolCall[] = [];
  for (const p of pieces) {
    const call = (calls[p.index] ??= {
      id: p.id ?? '',
      type: 'function',
      function: { name: p.function?.name ?? '', arguments: '' },
    });
    call.function.arguments += p.function?.arguments ?? '';
  }
  return calls;
}

/** The whole `chat.completion` once every choice has finished. */
export function chatCompletionJson(prepared: PreparedChat, output: OutputAccumulator) {
  const tokenizer = prepared.model.tokenizer;
  const traced = prepared.body.thinking?.trace === true;
  return {
    ...responseHead(prepared, 'chat.completion'),
    choices: output.choices.map((c) => ({
      index: c.index,
      message: {
        role: 'assistant' as const,
        content: c.toolCalls.length > 0 && !c.content ? null : c.content,
        reasoning_content: c.reasoning || null,
        ...(c.toolCalls.length > 0 && { tool_calls: joinToolCalls(c.toolCalls) }),
      },
      logprobs: prepared.body.logprobs
        ? { content: c.logprobs.map((lp) => chatLogprob(tokenizer, lp)) }
        : null,
      finish_reason: chatFinishReason(c),
      ...(traced && { reasoning_trace: c.trace.map(traceJson) }),
    })),
    usage: usageJson(output.usage!),
  };
}

/**
 * A change's fields in a chat delta: `content` or `reasoning_content`, with the choice's logprobs
 * and reasoning trace (shared by the SSE chunks and the WebSocket's messages). Null for a change
 * a chat delta does not carry.
 */
export function chatDeltaOf(
  prepared: PreparedChat,
  d: OutputDelta,
): { delta: Record<string, unknown>; trace?: ReturnType<typeof traceJson>; logprobs?: unknown[] } | null {
  if (d.type === 'reasoning') {
    return { delta: { reasoning_content: d.text }, trace: d.trace ? traceJson(d.trace) : undefined };
  }
  if (d.type !== 'content') return null;
  const logprobs =
    prepared.body.logprobs === true && d.logprobs
      ? d.logprobs.map((lp) => chatLogprob(prepared.model.tokenizer, lp))
      : undefined;
  // Pieces of tool calls replace content (a delta with calls and no text carries no `content`).
  const delta = d.toolCalls
    ? { ...(d.text && { content: d.text }), tool_calls: d.toolCalls }
    : { content: d.text };
  return { delta, logprobs };
}

/** `chat.completion.chunk`s: a role chunk per choice, the deltas, the finishes, and usage when asked. */
export function chatChunkMapper(prepared: PreparedChat): ChunkMapper<object> {
  const base = chunkBase(prepared, 'chat.completion.chunk');
  const chunk = (index: number, delta: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    ...base,
    choices: [{ index, delta, logprobs: null, finish_reason: null, ...extra }],
  });
  return {
    start: () =>
      Array.from({ length: prepared.choices }, (_, i) => chunk(i, { role: 'assistant', content: '' })),
    map(d, output) {
      if (d.type === 'finish')
        return [
          chunk(d.choice, {}, { finish_reason: chatFinishReason(output.choices[d.choice]!, d.reason) }),
        ];
      if (d.type === 'done')
        return prepared.body.stream_options?.include_usage
          ? [{ ...base, choices: [], usage: usageJson(d.usage) }]
          : [];
      const fields = chatDeltaOf(prepared, d);
      if (!fields) return [];
      return [
        chunk(d.choice, fields.delta, {
          ...(fields.logprobs && { logprobs: { content: fields.logprobs } }),
          ...(fields.trace && { reasoning_trace: [fields.trace] }),
        }),
      ];
    },
  };
}
