import type { ModelFacts } from '../decoding/model-facts.ts';
import type { ResolvedDecodingParams } from '../decoding/params.ts';
import { DecodingParamsError, resolveDecodingParams } from '../decoding/resolve-params.ts';
import { EngineError, type EngineErrorCode, type GenerateRequest } from './types.ts';

/** A request as the engine worker receives it: its parameters resolved (plain, structured-clonable). */
export interface ResolvedRequest extends Omit<GenerateRequest, 'params'> {
  params: ResolvedDecodingParams;
}

/**
 * Resolves a submitted request against its model: the one validation of its parameters, on the
 * main thread, before anything is sent to the worker.
 * @throws EngineError naming the parameter at fault
 */
export function resolveRequest(request: GenerateRequest, facts: ModelFacts): ResolvedRequest {
  let params: ResolvedDecodingParams;
  try {
    params = resolveDecodingParams(request.params, facts, {
      length: request.prompt.length,
      startsInThinking: request.startsInThinking,
    });
  } catch (err) {
    if (err instanceof DecodingParamsError)
      throw new EngineError(err.code as EngineErrorCode, err.message, err.param);
    throw err;
  }
  const { id, model, prompt, startsInThinking } = request;
  return { id, model, prompt, startsInThinking, params };
}
