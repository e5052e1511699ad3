import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { invalidRequest } from './errors.ts';

/**
 * `X-Request-Id` in and out, as vLLM: the caller's id (or a new 32-hex-digit one) is answered in
 * the response header and becomes the suffix of the request's id (`chatcmpl-<X-Request-Id>`), so it
 * shows in the response's `id`, the request span (`gen_ai.response.id`) and the engine's events.
 * An id must be unique among in-flight requests (the engine refuses a duplicate).
 */

/** Where handlers read the request id (`c.get(REQUEST_ID)`). */
export const REQUEST_ID = 'requestId';

declare module 'hono' {
  interface ContextVariableMap {
    [REQUEST_ID]: string;
  }
}

const MAX_LENGTH = 256;

export function requestIdMiddleware(): MiddlewareHandler {
  return async (c, next) => {
    const given = c.req.header('x-request-id');
    if (
      given !== undefined &&
      (given.length === 0 || given.length > MAX_LENGTH || !/^[\x20-\x7e]+$/.test(given))
    ) {
      throw invalidRequest(
        `X-Request-Id must be 1 to ${MAX_LENGTH} printable ASCII characters`,
        'X-Request-Id',
        'invalid_request_id',
      );
    }
    const id = given ?? randomUUID().replaceAll('-', '');
    c.set(REQUEST_ID, id);
    c.header('X-Request-Id', id);
    await next();
    c.res.headers.set('X-Request-Id', id);
  };
}
