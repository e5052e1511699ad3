import type { Handler } from 'hono';
import type { GenerateRequest } from '../../engine/types.ts';
import type { GenAiOperation } from '../../telemetry/request-telemetry.ts';
import { REQUEST_ID } from '../request-id.ts';
import { linkedAbort, readJsonBody } from './body.ts';
import type { ApiContext } from './context.ts';
import { failed, type Generation, startGeneration } from './generation.ts';
import type { ContentStream } from './output.ts';
import { IGNORED_FIELDS_HEADER, warnIgnored } from './request.ts';
import { type SseFormat, sseResponse } from './sse.ts';

/** What an endpoint's service prepares from a raw body. */
export interface PreparedGeneration {
  body: { stream?: boolean | null };
  request: GenerateRequest;
  /** Choices the response holds (n, or the superposed drafts). */
  choices: number;
  /** Superposed drafts share one thinking phase. */
  superposed: boolean;
  /** Request fields the server ignored (the X-Reverie-Ignored-Fields header, and a warning). */
  ignored: string[];
  /** Each choice's content stream (a tool-call parser); default: the text as it is. */
  contentStream?: () => ContentStream;
}

/** The accumulator's options of a prepared request. */
export function outputOptions(prepared: PreparedGeneration) {
  return {
    choices: prepared.choices,
    shareReasoning: prepared.superposed,
    ...(prepared.contentStream && { contentStream: prepared.contentStream }),
  };
}

/** The three steps of a generating endpoint; the route wires them to HTTP. */
export interface GenerationService<P extends PreparedGeneration> {
  /** `gen_ai.operation.name` of the endpoint. */
  operation: GenAiOperation;
  /**
   * Validates and renders the request (may wait, e.g. to validate a grammar off the worker).
   * @param requestId the HTTP request's id (X-Request-Id), the suffix of the generation's id
   */
  prepare(raw: unknown, ctx: ApiContext, requestId?: string): P | Promise<P>;
  /** The whole JSON response once every choice finished. */
  respond(prepared: P, generation: Generation): Promise<unknown>;
  /** SSE chunks. */
  chunks(prepared: P, generation: Generation): AsyncGenerator<unknown, void, undefined>;
  /** How the chunks are framed (default: `data:` lines and `[DONE]`). */
  sse?: SseFormat;
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
    // Telemetry starts on arrival, so a request refused while reading or validating is counted too.
    const telemetry = ctx.telemetry?.request(service.operation, c.req.raw.headers) ?? null;
    let prepared: P;
    try {
      prepared = await service.prepare(
        await readJsonBody(c.req.raw, ctx.config.maxBodyBytes),
        ctx,
        c.get(REQUEST_ID),
      );
    } catch (err) {
      throw failed(telemetry, err);
    }
    if (prepared.ignored.length > 0) {
      warnIgnored(c.req.path, prepared.ignored);
      c.header(IGNORED_FIELDS_HEADER, prepared.ignored.join(', '));
    }
    const abort = linkedAbort(c.req.raw.signal);
    const generation = startGeneration(prepared.request, {
      engine: ctx.engine,
      telemetry,
      retryAfterSeconds: ctx.config.retryAfterSeconds,
      signal: abort.signal,
      stream: prepared.body.stream === true,
      output: outputOptions(prepared),
    });
    if (prepared.body.stream) {
      const response = sseResponse(service.chunks(prepared, generation), () => abort.abort(), service.sse);
      if (prepared.ignored.length > 0)
        response.headers.set(IGNORED_FIELDS_HEADER, prepared.ignored.join(', '));
      return response;
    }
    try {
      return c.json((await service.respond(prepared, generation)) as object);
    } finally {
      abort.abort();
    }
  };
}
