import type { EngineEvent, GenerateRequest, ModelInfo, TokenLogprob } from '../../engine/types.ts';
import { chunkBase, collectChoices, traceJson, usageJson } from '../common/collect.ts';
import type { ApiContext } from '../common/context.ts';
import { decodingParams, promptOpensThinking, thinkingModeFor } from '../common/decoding.ts';
import { findModel, newRequestId, parseWith, rejectUnsupported } from '../common/request.ts';
import { tokenText } from '../common/tokens.ts';
import { invalidRequest, toApiError, unsupportedParameter } from '../errors.ts';
import { type CompletionRequest, completionRequestSchema, UNSUPPORTED_COMPLETIONS } from './schema.ts';

/** Completions: a raw prompt (text or token ids) continued without a chat template. */

export interface PreparedCompletion {
  body: CompletionRequest;
  model: ModelInfo;
  request: GenerateRequest;
  choices: number;
  superposed: boolean;
  created: number;
}

/** The single prompt of a request, as token ids. */
function promptIds(body: CompletionRequest, model: ModelInfo): { ids: number[] } {
  let prompt = body.prompt;
  if (Array.isArray(prompt) && (typeof prompt[0] === 'string' || Array.isArray(prompt[0]))) {
    if (prompt.length > 1) unsupportedPrompt();
    prompt = prompt[0] as string | number[];
  }
  if (typeof prompt === 'string') {
    if (prompt.length === 0) throw invalidRequest('prompt must not be empty', 'prompt');
    return { ids: model.tokenizer.encode(prompt, { specialTokens: true }) };
  }
  const ids = prompt as number[];
  const bad = ids.find((id) => id >= model.tokenizer.vocabSize);
  if (bad !== undefined) throw invalidRequest(`prompt: token id ${bad} is not in the vocabulary`, 'prompt');
  return { ids };
}

function unsupportedPrompt(): never {
  throw unsupportedParameter(
    'prompt',
    'with several prompts in one request is not supported yet: send one per request',
  );
}

/** @throws ApiError (400, 404) */
export function prepareCompletion(raw: unknown, ctx: ApiContext, requestId?: string): PreparedCompletion {
  const body = parseWith(completionRequestSchema, rejectUnsupported(raw, UNSUPPORTED_COMPLETIONS));
  if (body.echo) throw unsupportedParameter('echo', '= true is not supported yet');
  if (body.best_of != null && body.best_of !== 1)
    throw unsupportedParameter('best_of', '> 1 is not supported yet');
  if (body.stream_options && !body.stream) {
    throw invalidRequest('stream_options is only allowed when stream is true', 'stream_options');
  }
  const model = findModel(ctx.engine, body.model);
  const mode = thinkingModeFor(body, model);
  const { ids } = promptIds(body, model);
  const startsInThinking = promptOpensThinking(model, ids);
  const logprobs = body.logprobs != null;
  const params = decodingParams(body, ctx.config, mode, { logprobs, top_logprobs: body.logprobs ?? 0 });
  const superposed = params.superposition != null;
  return {
    body,
    model,
    request: {
      id: newRequestId('cmpl', requestId),
      model: model.name,
      prompt: ids,
      startsInThinking,
      params,
    },
    choices: superposed ? params.superposition!.drafts : (params.n ?? 1),
    superposed,
    created: Math.floor(Date.now() / 1000),
  };
}

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

export async function completion(prepared: PreparedCompletion, events: AsyncIterable<EngineEvent>) {
  const { choices, usage } = await collectChoices(events, prepared.choices, prepared.superposed);
  const traced = prepared.body.thinking?.trace === true;
  return {
    id: prepared.request.id,
    object: 'text_completion' as const,
    created: prepared.created,
    model: prepared.model.name,
    choices: choices.map((c) => ({
      index: c.index,
      text: c.content,
      logprobs:
        prepared.body.logprobs != null ? legacyLogprobs(prepared.model, c.logprobs, 0).logprobs : null,
      finish_reason: c.finishReason,
      reasoning_content: c.reasoning || null,
      ...(traced && { reasoning_trace: c.trace.map(traceJson) }),
    })),
    usage: usageJson(usage),
  };
}

export async function* completionChunks(prepared: PreparedCompletion, events: AsyncIterable<EngineEvent>) {
  const base = chunkBase(prepared, 'text_completion');
  const offsets = new Map<number, number>();
  const choice = (index: number, fields: Record<string, unknown>) => ({
    ...base,
    choices: [{ index, text: '', logprobs: null, finish_reason: null, ...fields }],
  });
  for await (const ev of events) {
    switch (ev.type) {
      case 'reasoning':
        if (!ev.text && !ev.trace) break;
        yield choice(ev.choice, {
          reasoning_content: ev.text,
          ...(ev.trace && { reasoning_trace: [traceJson(ev.trace)] }),
        });
        break;
      case 'content': {
        const wantLogprobs = prepared.body.logprobs != null && ev.logprobs?.length;
        if (!ev.text && !wantLogprobs) break;
        let logprobs = null;
        if (wantLogprobs) {
          const out = legacyLogprobs(prepared.model, ev.logprobs!, offsets.get(ev.choice) ?? 0);
          offsets.set(ev.choice, out.offset);
          logprobs = out.logprobs;
        }
        yield choice(ev.choice, { text: ev.text, logprobs });
        break;
      }
      case 'finish':
        yield choice(ev.choice, { finish_reason: ev.reason });
        break;
      case 'done':
        if (prepared.body.stream_options?.include_usage)
          yield { ...base, choices: [], usage: usageJson(ev.usage) };
        return;
      case 'error':
        throw toApiError(ev.error);
      default:
        break;
    }
  }
}
