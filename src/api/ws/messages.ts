import { chatDeltaOf } from '../chat-completions/output.ts';
import type { PreparedChat } from '../chat-completions/service.ts';
import type { ChunkMapper } from '../common/chunk-mapper.ts';
import { shownFinishReason } from '../common/output.ts';
import { usageJson } from '../common/shapes.ts';
import type { ServerMessage } from './protocol.ts';

/** Milliseconds to the microsecond: the clock's noise is not worth sending. */
const micros = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * The WebSocket's messages for one `response.create`: the chat completion's deltas (the same
 * fields as its SSE chunks: chat-completions/output.ts) as `response.*.delta` messages, the drafts
 * when asked, and `response.completed` with every choice's finish reason.
 * @param id the client's id of the request
 */
export function wsMessageMapper(
  id: string,
  prepared: PreparedChat,
  streamDrafts: boolean,
): ChunkMapper<ServerMessage> {
  return {
    map(d, output) {
      switch (d.type) {
        case 'reasoning':
          if (prepared.body.include_reasoning === false) return [];
          return [
            {
              type: 'response.reasoning.delta',
              id,
              index: d.choice,
              delta: d.text,
              ...(d.trace && { trace: chatDeltaOf(prepared, d)!.trace }),
            },
          ];
        case 'content': {
          const { logprobs } = chatDeltaOf(prepared, d)!;
          return [
            {
              type: 'response.output_text.delta',
              id,
              index: d.choice,
              delta: d.text,
              ...(logprobs && { logprobs }),
              ...(d.toolCalls && { tool_calls: d.toolCalls }),
            },
          ];
        }
        case 'drafts':
          if (!streamDrafts) return [];
          return [
            {
              type: 'response.drafts',
              id,
              step: d.step,
              drafts: d.drafts.map((x) => ({ text: x.text, score: x.score, finished: x.finished })),
            },
          ];
        case 'done':
          return [
            {
              type: 'response.completed',
              id,
              usage: usageJson(d.usage),
              finish_reasons: output.choices.map((c) => shownFinishReason(c)),
              timings: {
                queue_ms: micros(d.timings.queueMs),
                prefill_ms: micros(d.timings.prefillMs),
                first_token_ms: micros(d.timings.firstTokenMs),
                total_ms: micros(d.timings.totalMs),
              },
            },
          ];
        default:
          return [];
      }
    },
  };
}
