import type { RequestUsage, StepTrace } from '../../engine/types.ts';

/** JSON pieces the chat, completions and WebSocket outputs share. */

/** OpenAI's `usage` object. */
export function usageJson(usage: RequestUsage) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    prompt_tokens_details: { cached_tokens: usage.cachedTokens },
  };
}

/** What the chunks of a prepared streamed request are built from (chat and completions alike). */
interface StreamedRequest {
  body: { stream_options?: { include_usage?: boolean } | null };
  request: { id: string };
  model: { name: string };
  created: number;
}

/** The fields a response and each of its chunks start with. */
export function responseHead<O extends string>(prepared: Omit<StreamedRequest, 'body'>, object: O) {
  return { id: prepared.request.id, object, created: prepared.created, model: prepared.model.name };
}

/**
 * The fields every chunk of a stream shares. With `stream_options.include_usage`, OpenAI sends
 * `"usage": null` on every chunk before the final usage chunk; so do we.
 * @example const base = chunkBase(prepared, 'chat.completion.chunk');
 */
export function chunkBase<O extends string>(prepared: StreamedRequest, object: O) {
  return {
    ...responseHead(prepared, object),
    ...(prepared.body.stream_options?.include_usage === true && { usage: null }),
  };
}

/** One step of `reasoning_trace`. */
export function traceJson(step: StepTrace) {
  return { id: step.shadowId, token: step.shadowToken, top_k: step.top, entropy: step.entropy };
}
