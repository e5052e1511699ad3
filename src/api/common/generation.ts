import type { Engine, EngineEvent, GenerateRequest } from '../../engine/types.ts';
import { toApiError } from '../errors.ts';
import type { RequestMetrics } from '../metrics/metrics.ts';

/**
 * Submits a request. The engine refuses at submission (queue full, invalid for the model, engine
 * not running) by throwing, before the caller commits to a response, so those become a proper
 * HTTP status; later failures arrive as an `error` event.
 */

export interface StartOptions {
  engine: Engine;
  metrics: RequestMetrics | null;
  retryAfterSeconds: number;
  /** Aborting cancels the generation and frees its KV. */
  signal: AbortSignal;
}

/**
 * @returns the request's events, timed for the metrics; an `error` event is yielded, not thrown
 * @throws ApiError when the engine refuses the request
 */
export function startGeneration(
  request: GenerateRequest,
  options: StartOptions,
): AsyncGenerator<EngineEvent, void, undefined> {
  const started = performance.now();
  let iterator: AsyncIterator<EngineEvent>;
  try {
    iterator = options.engine.generate(request, options.signal)[Symbol.asyncIterator]();
  } catch (err) {
    const e = toApiError(err, options.retryAfterSeconds);
    options.metrics?.failed(request.model, e.code ?? 'error');
    throw e;
  }
  return instrumented(iterator, started, request.model, options.metrics);
}

async function* instrumented(
  iterator: AsyncIterator<EngineEvent>,
  started: number,
  model: string,
  metrics: RequestMetrics | null,
): AsyncGenerator<EngineEvent, void, undefined> {
  let lastToken: number | null = null;
  const reasons: string[] = [];
  let ended = false;
  try {
    let next = await iterator.next();
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
