import type { ModelInfo, TokenLogprob } from '../../engine/types.ts';
import type { ChunkMapper } from '../common/chunk-mapper.ts';
import type { OutputAccumulator } from '../common/output.ts';
import {
  chunkBase,
  reasoningFields,
  responseHead,
  runningUsage,
  traceJson,
  usageJson,
  wantsUsage,
} from '../common/shapes.ts';
import { tokenText } from '../common/tokens.ts';
import type { PreparedCompletion } from './service.ts';

/** The text completion's response shapes from the request's output: the JSON and the chunks. */

/** Legacy completions logprobs: parallel arrays, offsets into the choice's text. */
function legacyLogprobs(model: ModelInfo, lps: readonly TokenLogprob[], offset: number) {
  const tokens: string[] = [];
  const tokenLogprobs: number[] = [];
  const top: Record<string, number>[] = [];
  const textOffset: number[] = [];
  for (const lp of lps) {
    const { token } = tokenText(model.tokenizer, lp.id);
    textOffset.push(offset);
    offset += token.length;
    tokens.push(token);
    tokenLogprobs.push(lp.logprob);
    top.push(
      Object.fromEntries(lp.top_logprobs.map((t) => [tokenText(model.tokenizer, t.id).token, t.logprob])),
    );
  }
  return {
    logprobs: { tokens, token_logprobs: tokenLogprobs, top_logprobs: top, text_offset: textOffset },
    offset,
  };
}

/** The whole `text_completion` once every choice has finished. */
export function completionJson(prepared: PreparedCompletion, output: OutputAccumulator) {
  const traced = prepared.body.thinking?.trace === true;
  return {
    ...responseHead(prepared, 'text_completion'),
    choices: output.choices.map((c) => ({
      index: c.index,
      text: c.content,
      logprobs:
        prepared.body.logprobs != null ? legacyLogprobs(prepared.model, c.logprobs, 0).logprobs : null,
      finish_reason: c.finishReason,
      ...reasoningFields(prepared.body, c.reasoning),
      ...(traced && { reasoning_trace: c.trace.map(traceJson) }),
    })),
    usage: usageJson(output.usage!),
  };
}

/** `text_completion` chunks: text and reasoning deltas, the finishes, and usage when asked. */
export function completionChunkMapper(prepared: PreparedCompletion): ChunkMapper<object> {
  const base = chunkBase(prepared, 'text_completion');
  /** Each choice's text offset so far (the legacy logprobs' `text_offset`). */
  const offsets = new Map<number, number>();
  const hide = prepared.body.include_reasoning === false;
  return {
    map(d, output) {
      const chunk = (index: number, fields: Record<string, unknown>) => ({
        ...base,
        choices: [{ index, text: '', logprobs: null, finish_reason: null, ...fields }],
        ...runningUsage(prepared, output),
      });
      switch (d.type) {
        case 'reasoning':
          if (hide && !d.trace) return [];
          return [
            chunk(d.choice, {
              ...(!hide && { reasoning: d.text, reasoning_content: d.text }),
              ...(d.trace && { reasoning_trace: [traceJson(d.trace)] }),
            }),
          ];
        case 'content': {
          let logprobs = null;
          if (prepared.body.logprobs != null && d.logprobs?.length) {
            const out = legacyLogprobs(prepared.model, d.logprobs, offsets.get(d.choice) ?? 0);
            offsets.set(d.choice, out.offset);
            logprobs = out.logprobs;
          }
          return [chunk(d.choice, { text: d.text, logprobs })];
        }
        case 'finish':
          return [chunk(d.choice, { finish_reason: d.reason })];
        case 'done':
          return wantsUsage(prepared) ? [{ ...base, choices: [], usage: usageJson(d.usage) }] : [];
        default:
          return [];
      }
    },
  };
}
