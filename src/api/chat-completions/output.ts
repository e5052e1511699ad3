import type { ChunkMapper } from '../common/chunk-mapper.ts';
import {
  joinToolCalls,
  type OutputAccumulator,
  type OutputDelta,
  shownFinishReason,
} from '../common/output.ts';
import {
  chunkBase,
  reasoningFields,
  responseHead,
  runningUsage,
  traceJson,
  usageJson,
  wantsUsage,
} from '../common/shapes.ts';
import { chatLogprob } from '../common/tokens.ts';
import type { PreparedChat } from './service.ts';

/** The chat completion's response shapes from the request's output: the JSON and the chunks. */

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
        ...reasoningFields(prepared.body, c.reasoning),
        ...(c.toolCalls.length > 0 && { tool_calls: joinToolCalls(c.toolCalls) }),
      },
      logprobs: prepared.body.logprobs
        ? { content: c.logprobs.map((lp) => chatLogprob(tokenizer, lp)) }
        : null,
      finish_reason: shownFinishReason(c),
      ...(traced && { reasoning_trace: c.trace.map(traceJson) }),
    })),
    usage: usageJson(output.usage!),
  };
}

/**
 * A change's fields in a chat delta: `content`, or `reasoning` and `reasoning_content` (the same
 * text under both names; none with `include_reasoning: false`), with the choice's logprobs and
 * reasoning trace (shared by the SSE chunks and the WebSocket's messages). Null for a change a
 * chat delta does not carry.
 */
export function chatDeltaOf(
  prepared: PreparedChat,
  d: OutputDelta,
): { delta: Record<string, unknown>; trace?: ReturnType<typeof traceJson>; logprobs?: unknown[] } | null {
  if (d.type === 'reasoning') {
    const trace = d.trace ? traceJson(d.trace) : undefined;
    if (prepared.body.include_reasoning === false) return trace ? { delta: {}, trace } : null;
    return { delta: { reasoning: d.text, reasoning_content: d.text }, trace };
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
  const chunk = (
    output: OutputAccumulator | null,
    index: number,
    delta: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ) => ({
    ...base,
    choices: [{ index, delta, logprobs: null, finish_reason: null, ...extra }],
    ...runningUsage(prepared, output),
  });
  return {
    start: () =>
      Array.from({ length: prepared.choices }, (_, i) => chunk(null, i, { role: 'assistant', content: '' })),
    map(d, output) {
      if (d.type === 'finish')
        return [
          chunk(
            output,
            d.choice,
            {},
            { finish_reason: shownFinishReason(output.choices[d.choice]!, d.reason) },
          ),
        ];
      if (d.type === 'done')
        return wantsUsage(prepared) ? [{ ...base, choices: [], usage: usageJson(d.usage) }] : [];
      const fields = chatDeltaOf(prepared, d);
      if (!fields) return [];
      return [
        chunk(output, d.choice, fields.delta, {
          ...(fields.logprobs && { logprobs: { content: fields.logprobs } }),
          ...(fields.trace && { reasoning_trace: [fields.trace] }),
        }),
      ];
    },
  };
}
