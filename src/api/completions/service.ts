import type { GenerateRequest, ModelInfo } from '../../engine/types.ts';
import { mapChunks } from '../common/chunk-mapper.ts';
import type { ApiContext } from '../common/context.ts';
import { decodingParams, promptOpensThinking, thinkingModeFor } from '../common/decoding.ts';
import type { Generation } from '../common/generation.ts';
import { findModel, newRequestId, readRequest } from '../common/request.ts';
import { resolveStructuredOutput } from '../common/resolve-structured-output.ts';
import { invalidRequest, unsupportedParameter } from '../errors.ts';
import { completionChunkMapper, completionJson } from './output.ts';
import { type CompletionRequest, completionRequestSchema, UNSUPPORTED_COMPLETIONS } from './schema.ts';

/** Completions: a raw prompt (text or token ids) continued without a chat template. */

export interface PreparedCompletion {
  body: CompletionRequest;
  model: ModelInfo;
  request: GenerateRequest;
  choices: number;
  superposed: boolean;
  created: number;
  /** Request fields set aside: the X-Reverie-Ignored-Fields header. */
  ignored: string[];
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
export async function prepareCompletion(
  raw: unknown,
  ctx: ApiContext,
  requestId?: string,
): Promise<PreparedCompletion> {
  const { body, ignored } = readRequest(raw, completionRequestSchema, UNSUPPORTED_COMPLETIONS);
  if (body.echo) throw unsupportedParameter('echo', '= true is not supported yet');
  if (body.best_of != null && body.best_of !== 1)
    throw unsupportedParameter('best_of', '> 1 is not supported yet');
  const model = findModel(ctx.engine, body.model);
  const mode = thinkingModeFor(body, model);
  const { ids } = promptIds(body, model);
  const startsInThinking = promptOpensThinking(model, ids);
  const logprobs = body.logprobs != null;
  const params = decodingParams(body, ctx.config, mode, {
    logprobs,
    top_logprobs: body.logprobs ?? 0,
    structured_output: await resolveStructuredOutput(body),
  });
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
    ignored,
  };
}

export async function completion(prepared: PreparedCompletion, generation: Generation) {
  return completionJson(prepared, await generation.collect());
}

export function completionChunks(prepared: PreparedCompletion, generation: Generation) {
  return mapChunks(generation, completionChunkMapper(prepared));
}
