import type { Engine, EngineEvent, GenerateRequest } from '../../engine/types.ts';
import type { RequestTelemetry } from '../../telemetry/request-telemetry.ts';
import { type ApiError, toApiError } from '../errors.ts';

/**
 * Submits a request. The engine refuses at submission (queue full, invalid for the model, engine
 * not running) by throwing, before the caller commits to a response, so those become a proper
 * HTTP status; later failures arrive as an `error` event.
 */

export interface StartOptions {
  engine: Engine;
  /** The request's span and metrics, started when the request arrived. */
  telemetry: RequestTelemetry | null;
  retryAfterSeconds: number;
  /** Aborting cancels the generation and frees its KV. */
  signal: AbortSignal;
  /** `gen_ai.request.stream`. */
  stream: boolean;
}

/**
 * Turns what a request failed with into its ApiError and records it on the request's telemetry
 * (`error.type`: the error's code, else its type). Callers throw the result.
 */
export function failed(
  telemetry: RequestTelemetry | null,
  err: unknown,
  retryAfterSeconds?: number,
): ApiError {
  const e = toApiError(err, retryAfterSeconds);
  telemetry?.fail(e.code ?? e.type, e.message);
  return e;
}

/**
 * @returns the request's events, observed by its telemetry; an `error` event is yielded, not thrown
 * @throws ApiError when the engine refuses the request
 */
export function startGeneration(
  request: GenerateRequest,
  options: StartOptions,
): AsyncGenerator<EngineEvent, void, undefined> {
  const telemetry = options.telemetry;
  telemetry?.submitted(request, options.stream);
  let iterator: AsyncIterator<EngineEvent>;
  try {
    iterator = options.engine.generate(request, options.signal)[Symbol.asyncIterator]();
  } catch (err) {
    throw failed(telemetry, err, options.retryAfterSeconds);
  }
  return observed(iterator, telemetry);
}

async function* observed(
  iterator: AsyncIterator<EngineEvent>,
  telemetry: RequestTelemetry | null,
): AsyncGenerator<EngineEvent, void, undefined> {
  let ended = false;
  try {
    let next = await iterator.next();
    while (!next.done) {
      const ev = next.value;
      telemetry?.event(ev);
      if (ev.type === 'done' || ev.type === 'error') ended = true;
      yield ev;
      if (ended) return;
      next = await iterator.next();
    }
  } finally {
    // The consumer stopped early (client gone, slow reader): cancel the engine side too.
    if (!ended) {
      telemetry?.cancelled();
      await iterator.return?.();
    }
  }
}
