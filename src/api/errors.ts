import { z } from 'zod';
import { CodedError, fromZodError as codedFromZod, type ErrorCode } from '../errors.ts';

/**
 * The API's errors and the one place any error becomes an HTTP status and OpenAI's shape
 * `{"error": {"message", "type", "param", "code"}}`. Statuses and types come from the error
 * catalogue (src/errors.ts), shared with the engine and the WebSocket.
 */

/** The body of every error response. */
export const errorBodySchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.enum([
        'invalid_request_error',
        'authentication_error',
        'not_found_error',
        'rate_limit_error',
        'server_error',
      ]),
      param: z.string().nullable().describe('the request parameter at fault, e.g. `messages[0].content`'),
      code: z.string().nullable().describe('stable machine-readable code, e.g. `unsupported_parameter`'),
    }),
  })
  .meta({ id: 'Error', description: "OpenAI's error shape." });
export type OpenAIErrorBody = z.infer<typeof errorBodySchema>;

/** A coded error with the response headers it needs; thrown anywhere in the API, rendered by {@link errorResponse}. */
export class ApiError extends CodedError {
  override readonly name = 'ApiError';
  constructor(
    code: ErrorCode,
    message: string,
    param?: string | null,
    /** Extra response headers (Retry-After, WWW-Authenticate, Allow). */
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message, param);
  }
}

/** 400 naming the parameter at fault. */
export function invalidRequest(
  message: string,
  param: string | null = null,
  code: ErrorCode = 'invalid_value',
): ApiError {
  return new ApiError(code, message, param);
}

/** 400 for an OpenAI field reverie does not implement yet (never silently ignored). */
export function unsupportedParameter(param: string, why = 'is not supported by reverie yet'): ApiError {
  return new ApiError('unsupported_parameter', `${param} ${why}`, param);
}

export function unknownModel(name: string, available: readonly string[]): ApiError {
  return new ApiError(
    'model_not_found',
    `The model \`${name}\` does not exist; available: ${available.join(', ') || '(none)'}`,
  );
}

export function bodyTooLarge(limit: number): ApiError {
  return new ApiError('request_too_large', `Request body exceeds the limit of ${limit} bytes`);
}

export function unauthorized(): ApiError {
  return new ApiError(
    'invalid_api_key',
    'Missing or invalid API key: send `Authorization: Bearer <key>`',
    null,
    { 'WWW-Authenticate': 'Bearer' },
  );
}

export function overloaded(
  retryAfterSeconds: number,
  message = 'The server is overloaded: retry later',
): ApiError {
  return new ApiError('overloaded', message, null, { 'Retry-After': String(retryAfterSeconds) });
}

export function unavailable(message = 'The engine is not running'): ApiError {
  return new ApiError('unavailable', message);
}

export function routeNotFound(method: string, path: string): ApiError {
  return new ApiError('not_found', `No route for ${method} ${path}`);
}

/** 405 for a known path asked with another method; `allow` lists the path's methods. */
export function methodNotAllowed(method: string, path: string, allow: readonly string[]): ApiError {
  return new ApiError(
    'method_not_allowed',
    `Method ${method} is not allowed on ${path}; allowed: ${allow.join(', ')}`,
    null,
    { Allow: allow.join(', ') },
  );
}

/** The first issue of a failed parse, as a 400 naming its parameter. */
export function fromZodError(error: z.ZodError): ApiError {
  const e = codedFromZod(error);
  return new ApiError(e.code, e.message, e.param);
}

/** Maps any thrown value to an ApiError; the single mapping from errors to HTTP statuses. */
export function toApiError(err: unknown, retryAfterSeconds = 1): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof CodedError) {
    if (err.code === 'overloaded') return overloaded(retryAfterSeconds, err.message);
    return new ApiError(err.code, err.message, err.param);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError('internal_error', `Internal error: ${message}`);
}

/** The HTTP response for an error. */
export function errorResponse(err: unknown, retryAfterSeconds = 1): Response {
  const e = toApiError(err, retryAfterSeconds);
  return new Response(JSON.stringify(e.toJSON()), {
    status: e.status,
    headers: { 'Content-Type': 'application/json', ...e.headers },
  });
}
