import type { z } from 'zod';

/**
 * The one catalogue of error codes. Every error a client can see (HTTP, SSE, WebSocket) carries
 * one of these codes; the catalogue gives its HTTP status and OpenAI error `type`, and for some
 * the request parameter it is about. The engine, the decoders and the API throw
 * {@link CodedError}s (or subclasses) naming a code; the API renders them in one place
 * (src/api/errors.ts), in OpenAI's shape `{"error": {message, type, param, code}}`.
 */

/** OpenAI's error `type` values that reverie uses. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error';

interface CatalogueEntry {
  status: number;
  type: ErrorType;
  /** The parameter this code is always about (a specific error may name a more precise one). */
  param?: string;
}

const client = (param?: string): CatalogueEntry => ({
  status: 400,
  type: 'invalid_request_error',
  ...(param && { param }),
});
const server = (status: number): CatalogueEntry => ({ status, type: 'server_error' });
const limited: CatalogueEntry = { status: 429, type: 'rate_limit_error' };

export const ERROR_CATALOGUE = {
  // 400: the request as sent.
  invalid_value: client(),
  invalid_json: client(),
  invalid_body: client(),
  invalid_content_type: client(),
  invalid_request_id: client('X-Request-Id'),
  unknown_parameter: client(),
  unsupported_parameter: client(),
  conflicting_parameters: client(),
  /** Prompt, thinking budget and max_tokens do not fit the model length. */
  context_length_exceeded: client(),
  /** A thinking mode (or superposition) the checkpoint cannot run. */
  unsupported_mode: client('thinking.mode'),
  /** The chat template refused the conversation (`raise_exception`), or failed on it. */
  template_rejected: client('messages'),
  template_error: client('messages'),
  // WebSocket messages.
  invalid_message: client(),
  invalid_subprotocol: client(),
  unknown_id: client('id'),
  duplicate_id: client('id'),
  request_too_large: { status: 413, type: 'invalid_request_error' },
  message_too_large: { status: 413, type: 'invalid_request_error' },
  invalid_api_key: { status: 401, type: 'authentication_error' },
  not_found: { status: 404, type: 'not_found_error' },
  model_not_found: { status: 404, type: 'not_found_error', param: 'model' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  /** The engine's queue is full: retry later (Retry-After). */
  overloaded: limited,
  /** More concurrent requests on one WebSocket than allowed. */
  too_many_requests: limited,
  /** The client read nothing for longer than the stall timeout; the request was cancelled. */
  slow_reader: limited,
  internal_error: server(500),
  /** The checkpoint's chat template is missing or does not parse (the server's fault). */
  missing_template: server(500),
  template_syntax: server(500),
  /** The engine is starting, closed or dead. */
  unavailable: server(503),
  /** Cancelled by the server (shutdown) while the client still listened. */
  cancelled: server(503),
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** OpenAI's error body. */
export interface ErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
}

/**
 * An error with a catalogued code: status and type come from the catalogue, `param` from the
 * thrower (else the catalogue's). Plain fields, so it crosses the worker boundary as `{code,
 * message, param}`.
 *
 * @example throw new CodedError('invalid_value', 'top_p must be in (0, 1]', 'top_p');
 */
export class CodedError extends Error {
  readonly param: string | null;

  constructor(
    readonly code: ErrorCode,
    message: string,
    param?: string | null,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CodedError';
    this.param = param === undefined ? ((ERROR_CATALOGUE[code] as CatalogueEntry).param ?? null) : param;
  }

  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }

  get type(): ErrorType {
    return ERROR_CATALOGUE[this.code].type;
  }

  toJSON(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
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

/**
 * The first issue of a failed parse as a coded error naming its parameter (`unknown_parameter`
 * for a field the schema does not have, else `invalid_value`).
 * @param prefix path of the parsed value inside the request (its parameters are named below it)
 */
export function fromZodError(error: z.ZodError, prefix: readonly PropertyKey[] = []): CodedError {
  const issue = deepestIssue(error.issues[0]!);
  if (issue.code === 'unrecognized_keys') {
    const param = formatParam([...prefix, ...issue.path, issue.keys[0]!]);
    return new CodedError('unknown_parameter', `Unrecognized parameter: ${param}`, param);
  }
  const param = formatParam([...prefix, ...issue.path]);
  return new CodedError('invalid_value', param ? `Invalid ${param}: ${issue.message}` : issue.message, param);
}
