import { z } from 'zod';
import { EngineError } from '../engine/types.ts';
import { ChatTemplateError } from '../model/chat-template.ts';

/**
 * The API's error catalogue and the one place errors become HTTP statuses. Every error leaves the
 * server in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
 */

/** OpenAI's error `type` values that reverie uses. */
export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error';

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

/** An error with its HTTP status; thrown anywhere in the API, rendered by {@link errorResponse}. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly type: ApiErrorType,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra response headers (Retry-After, WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toJSON(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 naming the parameter at fault. */
export function invalidRequest(
  message: string,
  param: string | null = null,
  code = 'invalid_value',
): ApiError {
  return new ApiError(400, 'invalid_request_error', message, param, code);
}

/** 400 for an OpenAI field reverie does not implement yet (never silently ignored). */
export function unsupportedParameter(param: string, why = 'is not supported by reverie yet'): ApiError {
  return new ApiError(400, 'invalid_request_error', `${param} ${why}`, param, 'unsupported_parameter');
}

export function unknownModel(name: string, available: readonly string[]): ApiError {
  return new ApiError(
    404,
    'not_found_error',
    `The model \`${name}\` does not exist; available: ${available.join(', ') || '(none)'}`,
    'model',
    'model_not_found',
  );
}

export function bodyTooLarge(limit: number): ApiError {
  return new ApiError(
    413,
    'invalid_request_error',
    `Request body exceeds the limit of ${limit} bytes`,
    null,
    'request_too_large',
  );
}

export function unauthorized(): ApiError {
  return new ApiError(
    401,
    'authentication_error',
    'Missing or invalid API key: send `Authorization: Bearer <key>`',
    null,
    'invalid_api_key',
    { 'WWW-Authenticate': 'Bearer' },
  );
}

export function overloaded(
  retryAfterSeconds: number,
  message = 'The server is overloaded: retry later',
): ApiError {
  return new ApiError(429, 'rate_limit_error', message, null, 'overloaded', {
    'Retry-After': String(retryAfterSeconds),
  });
}

export function unavailable(message = 'The engine is not running'): ApiError {
  return new ApiError(503, 'server_error', message, null, 'unavailable');
}

export function routeNotFound(method: string, path: string): ApiError {
  return new ApiError(404, 'not_found_error', `No route for ${method} ${path}`, null, 'not_found');
}

/** 405 for a known path asked with another method; `allow` lists the path's methods. */
export function methodNotAllowed(method: string, path: string, allow: readonly string[]): ApiError {
  return new ApiError(
    405,
    'invalid_request_error',
    `Method ${method} is not allowed on ${path}; allowed: ${allow.join(', ')}`,
    null,
    'method_not_allowed',
    { Allow: allow.join(', ') },
  );
}

/** Formats a zod issue path the way clients write parameters: `messages[0].content`. */
export function formatParam(path: readonly PropertyKey[]): string | null {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || null;
}

type Issue = z.core.$ZodIssue;

/**
 * For a value matching no branch of a union, the branch issue that got furthest into the value
 * (a content part's bad `type` rather than "invalid input" for the whole content); the union
 * itself when no branch got past its top.
 */
function deepestIssue(issue: Issue): Issue {
  if (issue.code !== 'invalid_union' || !issue.errors?.length) return issue;
  let best: Issue | null = null;
  for (const inner of issue.errors.flat()) {
    const candidate = deepestIssue({ ...inner, path: [...issue.path, ...inner.path] } as Issue);
    if (!best || candidate.path.length > best.path.length) best = candidate;
  }
  return best && best.path.length > issue.path.length ? best : issue;
}

/** The first issue of a failed parse, as a 400 naming its parameter. */
export function fromZodError(error: z.ZodError): ApiError {
  const issue = deepestIssue(error.issues[0]!);
  if (issue.code === 'unrecognized_keys') {
    const param = formatParam([...issue.path, issue.keys[0]!]);
    return invalidRequest(`Unrecognized parameter: ${param}`, param, 'unknown_parameter');
  }
  const param = formatParam(issue.path);
  return invalidRequest(param ? `Invalid ${param}: ${issue.message}` : issue.message, param);
}

/** Maps any thrown value to an ApiError; the single mapping from coded errors to HTTP statuses. */
export function toApiError(err: unknown, retryAfterSeconds = 1): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof EngineError) {
    switch (err.code) {
      case 'invalid_request':
        return invalidRequest(err.message, err.param);
      case 'unknown_model':
        return new ApiError(404, 'not_found_error', err.message, 'model', 'model_not_found');
      case 'overloaded':
        return overloaded(retryAfterSeconds, err.message);
      case 'cancelled':
        // Only seen by a client that is still listening after a server-side cancel (shutdown).
        return new ApiError(503, 'server_error', err.message, null, 'cancelled');
      case 'slow_reader':
        // Seen by a reader that comes back after its request was cancelled for not reading.
        return new ApiError(429, 'rate_limit_error', err.message, null, 'slow_reader');
      case 'unavailable':
        return unavailable(err.message);
      default:
        return new ApiError(500, 'server_error', err.message, null, 'internal_error');
    }
  }
  if (err instanceof ChatTemplateError) {
    if (err.code === 'template_rejected' || err.code === 'template_error') {
      return invalidRequest(err.message, 'messages', err.code);
    }
    return new ApiError(500, 'server_error', err.message, null, err.code);
  }
  if (err instanceof Error && err.name === 'DecodingParamsError') {
    return invalidRequest(err.message, paramOf(err.message));
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError(500, 'server_error', `Internal error: ${message}`, null, 'internal_error');
}

/** The parameter a decoding error message starts with (`thinking.max_tokens must be …`). */
function paramOf(message: string): string | null {
  const match = /^([a-z_]+(?:\.[a-z_]+)*(?:\[[^\]]*\])?)\s/.exec(message);
  return match ? match[1]! : null;
}

/** The HTTP response for an error. */
export function errorResponse(err: unknown, retryAfterSeconds = 1): Response {
  const e = toApiError(err, retryAfterSeconds);
  return new Response(JSON.stringify(e.toJSON()), {
    status: e.status,
    headers: { 'Content-Type': 'application/json', ...e.headers },
  });
}
