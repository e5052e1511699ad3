import type { Engine, EngineEvent, GenerateRequest } from '../../engine/types.ts';
import { ApiError, toApiError } from '../errors.ts';
import type { RequestMetrics } from '../metrics/metrics.ts';

/**
 * Submits a request and waits for its first event before the caller commits to a response, so
 * that refusals the engine reports at submission (queue full, invalid for the model, engine not
 * running) still become a proper HTTP status instead of a broken stream.
 */

export interface StartOptions {
  engine: Engine;
  metrics: RequestMetrics | null;
  retryAfterSeconds: number;
  /** Aborting cancels the generation and frees its KV. */
  signal: AbortSignal;
}

/**
 * @returns the request's events (the first one included); a later `error` event is yielded, not thrown
 * @throws ApiError when the first event is an error or the engine throws at submission
 */
export async function startGeneration(
  request: GenerateRequest,
  options: StartOptions,
): Promise<AsyncGenerator<EngineEvent, void, undefined>> {
  const started = performance.now();
  const metrics = options.metrics;
  const model = request.model;
  let iterator: AsyncIterator<EngineEvent>;
  let first: IteratorResult<EngineEvent>;
  try {
    iterator = options.engine.generate(request, options.signal)[Symbol.asyncIterator]();
    first = await iterator.next();
  } catch (err) {
    const e = toApiError(err, options.retryAfterSeconds);
    metrics?.failed(model, e.code ?? 'error');
    throw e;
  }
  if (first.done) {
    metrics?.failed(model, 'internal_error');
    throw new ApiError(
      500,
      'server_error',
      'The engine ended the request without events',
      null,
      'internal_error',
    );
  }
  if (first.value.type === 'error') {
    metrics?.failed(model, first.value.error.code);
    throw toApiError(first.value.error, options.retryAfterSeconds);
  }
  return instrumented(first.value, iterator, started, model, metrics);
}

async function* instrumented(
  first: EngineEvent,
  iterator: AsyncIterator<EngineEvent>,
  started: number,
  model: string,
  metrics: RequestMetrics | null,
): AsyncGenerator<EngineEvent, void, undefined> {
  let lastToken: number | null = null;
  const reasons: string[] = [];
  let ended = false;
  try {
    let next: IteratorResult<EngineEvent> = { done: false, value: first };
    while (!next.done) {
      const ev = next.value;
      if (metrics) {
        if (ev.type === 'reasoning' || ev.type === 'content' || ev.type === 'drafts') {
          const now = performance.now();
          if (lastToken === null) metrics.firstToken(model, (now - started) / 1000);
          else metrics.interToken(model, (now - lastToken) / 1000);
          lastToken = now;
        } else if (ev.type === 'finish') {
          reasons.push(ev.reason);
        } else if (ev.type === 'done') {
          metrics.prompt(model, ev.usage.promptTokens, ev.usage.cachedTokens);
          metrics.generation(model, ev.usage.completionTokens, ev.usage.reasoningTokens);
          metrics.finished(model, ev.timings.totalMs / 1000, ev.timings.queueMs / 1000, reasons);
        } else if (ev.type === 'error') {
          metrics.failed(model, ev.error.code);
        }
      }
      if (ev.type === 'done' || ev.type === 'error') ended = true;
      yield ev;
      if (ended) return;
      next = await iterator.next();
    }
  } finally {
    // The consumer stopped early (client gone, slow reader): cancel the engine side too.
    if (!ended) {
      metrics?.failed(model, 'cancelled');
      await iterator.return?.();
    }
  }
}
