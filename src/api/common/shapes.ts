import type { RequestUsage, StepTrace } from '../../engine/types.ts';
import type { OutputAccumulator } from './output.ts';

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
  body: {
    stream_options?: { include_usage?: boolean | null; continuous_usage_stats?: boolean | null } | null;
  };
  request: { id: string; prompt: readonly number[] };
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

/**
 * A chunk's `usage`: with `stream_options.continuous_usage_stats` (and include_usage) every chunk
 * carries the usage so far, as vLLM sends it; otherwise nothing (the base's `usage: null` stays).
 */
export function runningUsage(prepared: StreamedRequest, output: OutputAccumulator | null) {
  const options = prepared.body.stream_options;
  if (!options?.include_usage || !options.continuous_usage_stats) return {};
  const promptTokens = prepared.request.prompt.length;
  return {
    usage: usageJson(
      output?.usageSoFar(promptTokens) ?? {
        promptTokens,
        completionTokens: 0,
        reasoningTokens: 0,
        cachedTokens: 0,
      },
    ),
  };
}

/** Whether the final usage chunk goes out (`stream_options.include_usage`). */
export function wantsUsage(prepared: StreamedRequest): boolean {
  return prepared.body.stream_options?.include_usage === true;
}

/** One step of `reasoning_trace`. */
export function traceJson(step: StepTrace) {
  return { id: step.shadowId, token: step.shadowToken, top_k: step.top, entropy: step.entropy };
}

/**
 * A choice's reasoning under both names: `reasoning` (vLLM's current field) and
 * `reasoning_content` (SGLang, llama.cpp, older vLLM); null when empty or `include_reasoning` is false.
 */
export function reasoningFields(body: { include_reasoning?: boolean | null }, text: string) {
  const shown = body.include_reasoning === false || !text ? null : text;
  return { reasoning: shown, reasoning_content: shown };
}
