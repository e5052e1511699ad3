import type { EngineEvent, FinishReason, RequestUsage, StepTrace, TokenLogprob } from '../../engine/types.ts';
import { toApiError } from '../errors.ts';

/** Everything one choice produced, gathered for a non-streamed response. */
export interface CollectedChoice {
  index: number;
  content: string;
  reasoning: string;
  trace: StepTrace[];
  logprobs: TokenLogprob[];
  tokenIds: number[];
  finishReason: FinishReason | null;
}

export interface Collected {
  choices: CollectedChoice[];
  usage: RequestUsage;
}

/**
 * Drains a request's events into its choices.
 * @param count number of choices (n, or the superposed drafts)
 * @param shareReasoning superposed drafts share one thinking phase, reported on choice 0: copy it
 * @throws ApiError when the request fails
 */
export async function collectChoices(
  events: AsyncIterable<EngineEvent>,
  count: number,
  shareReasoning: boolean,
): Promise<Collected> {
  const choices: CollectedChoice[] = Array.from({ length: count }, (_, index) => ({
    index,
    content: '',
    reasoning: '',
    trace: [],
    logprobs: [],
    tokenIds: [],
    finishReason: null,
  }));
  const at = (i: number): CollectedChoice => {
    while (choices.length <= i)
      choices.push({ ...choices[0]!, index: choices.length, trace: [], logprobs: [], tokenIds: [] });
    return choices[i]!;
  };
  let usage: RequestUsage | null = null;
  for await (const ev of events) {
    switch (ev.type) {
      case 'reasoning': {
        const c = at(ev.choice);
        c.reasoning += ev.text;
        if (ev.trace) c.trace.push(ev.trace);
        break;
      }
      case 'content': {
        const c = at(ev.choice);
        c.content += ev.text;
        c.tokenIds.push(...ev.tokenIds);
        if (ev.logprobs) c.logprobs.push(...ev.logprobs);
        break;
      }
      case 'finish':
        at(ev.choice).finishReason = ev.reason;
        break;
      case 'done':
        usage = ev.usage;
        break;
      case 'error':
        throw toApiError(ev.error);
      default:
        break;
    }
  }
  if (!usage) throw toApiError(new Error('the engine ended the request without a result'));
  if (shareReasoning) {
    for (const c of choices.slice(1)) {
      if (!c.reasoning) c.reasoning = choices[0]!.reasoning;
      if (c.trace.length === 0) c.trace = choices[0]!.trace;
    }
  }
  return { choices, usage };
}

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

/**
 * The fields every chunk of a stream shares. With `stream_options.include_usage`, OpenAI sends
 * `"usage": null` on every chunk before the final usage chunk; so do we.
 * @example const base = chunkBase(prepared, 'chat.completion.chunk');
 */
export function chunkBase<O extends string>(prepared: StreamedRequest, object: O) {
  return {
    id: prepared.request.id,
    object,
    created: prepared.created,
    model: prepared.model.name,
    ...(prepared.body.stream_options?.include_usage === true && { usage: null }),
  };
}

/** One step of `reasoning_trace`. */
export function traceJson(step: StepTrace) {
  return { id: step.shadowId, token: step.shadowToken, top_k: step.top, entropy: step.entropy };
}
