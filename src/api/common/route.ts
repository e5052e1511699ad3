import type { Handler } from 'hono';
import type { EngineEvent, GenerateRequest } from '../../engine/types.ts';
import { linkedAbort, readJsonBody } from './body.ts';
import type { ApiContext } from './context.ts';
import { startGeneration } from './generation.ts';
import { sseResponse } from './sse.ts';

/** What an endpoint's service prepares from a raw body. */
export interface PreparedGeneration {
  body: { stream?: boolean | null };
  request: GenerateRequest;
}

/** The three steps of a generating endpoint; the route wires them to HTTP. */
export interface GenerationService<P extends PreparedGeneration> {
  prepare(raw: unknown, ctx: ApiContext): P;
  /** The whole JSON response once every choice finished. */
  respond(prepared: P, events: AsyncIterable<EngineEvent>): Promise<unknown>;
  /** SSE chunks. */
  chunks(prepared: P, events: AsyncIterable<EngineEvent>): AsyncGenerator<unknown, void, undefined>;
}

/**
 * A POST handler: read the body (size limit), prepare, submit (cancelled when the client goes
 * away), answer JSON or SSE.
 */
export function generationHandler<P extends PreparedGeneration>(
  ctx: ApiContext,
  service: GenerationService<P>,
): Handler {
  return async (c) => {
    const prepared = service.prepare(await readJsonBody(c.req.raw, ctx.config.maxBodyBytes), ctx);
    const abort = linkedAbort(c.req.raw.signal);
    const events = startGeneration(prepared.request, {
      engine: ctx.engine,
      metrics: ctx.metrics,
      retryAfterSeconds: ctx.config.retryAfterSeconds,
      signal: abort.signal,
    });
    if (prepared.body.stream) return sseResponse(service.chunks(prepared, events), () => abort.abort());
    try {
      return c.json((await service.respond(prepared, events)) as object);
    } finally {
      abort.abort();
    }
  };
}
