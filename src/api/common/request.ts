import type { z } from 'zod';
import type { Engine, ModelInfo } from '../../engine/types.ts';
import { fromZodError, invalidRequest, unavailable, unknownModel, unsupportedParameter } from '../errors.ts';

/**
 * Steps every endpoint takes before it can build a generate request: strip or refuse unsupported
 * OpenAI fields, set unknown ones aside, parse with zod, and find the model.
 */

/** The response header that lists the request fields the server ignored. */
export const IGNORED_FIELDS_HEADER = 'X-Reverie-Ignored-Fields';

/** A parsed body, and the top-level fields it ignored. */
export interface ReadRequest<T> {
  body: T;
  /**
   * Unknown top-level fields (vLLM ignores them with a warning), in the body's order, then known
   * options that have no effect here (`stream_options.include_obfuscation`).
   */
  ignored: string[];
}

/** What every endpoint's body may carry that this step checks. */
interface StreamFields {
  stream?: boolean | null;
  stream_options?: { include_obfuscation?: boolean | null } | null;
}

/**
 * Reads a request body as vLLM does: fields the endpoint does not implement get a 400 naming them
 * (`unsupported`), unknown top-level fields are set aside (ignored, reported in
 * {@link IGNORED_FIELDS_HEADER} and logged), and the rest is parsed by the schema, which still
 * refuses a wrong type or value of a field it knows; `stream_options` needs `stream`.
 * @throws ApiError 400
 */
export function readRequest<S extends z.ZodType<StreamFields> & { shape: Record<string, unknown> }>(
  raw: unknown,
  schema: S,
  unsupported: readonly string[],
): ReadRequest<z.infer<S>> {
  const kept = rejectUnsupported(raw, unsupported) as Record<string, unknown>;
  const ignored = Object.keys(kept).filter((key) => !(key in schema.shape));
  for (const key of ignored) delete kept[key];
  const body = parseWith(schema, kept);
  if (body.stream_options && !body.stream) {
    throw invalidRequest('stream_options is only allowed when stream is true', 'stream_options');
  }
  // reverie adds no obfuscation padding: accepted, and reported like an unknown field.
  if (body.stream_options?.include_obfuscation) ignored.push('stream_options.include_obfuscation');
  return { body, ignored };
}

const warned = new Set<string>();
/** Logs the fields a request sent that the server ignored: once per distinct list, not per request. */
export function warnIgnored(endpoint: string, fields: readonly string[]): void {
  if (fields.length === 0) return;
  const key = `${endpoint} ${fields.join(',')}`;
  if (warned.has(key) || warned.size > 1000) return;
  warned.add(key);
  process.stderr.write(`reverie: ${endpoint}: ignored request fields: ${fields.join(', ')}\n`);
}

/** Refuses fields reverie does not implement (a null value is as good as absent and dropped). */
export function rejectUnsupported(body: unknown, fields: readonly string[]): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidRequest('The request body must be a JSON object', null, 'invalid_body');
  }
  const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const field of fields) {
    if (!(field in out)) continue;
    if (out[field] === null) delete out[field];
    else throw unsupportedParameter(field);
  }
  return out;
}

/** Parses a body with a schema; the first issue becomes a 400 naming its parameter. */
export function parseWith<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (!result.success) throw fromZodError(result.error);
  return result.data;
}

/** The served model named `name`: 503 while the engine is not ready, 404 for an unknown name. */
export function findModel(engine: Engine, name: string): ModelInfo {
  const { state } = engine.stats();
  if (state !== 'ready')
    throw unavailable(`The engine is ${state === 'starting' ? 'loading its models' : state}`);
  const model = engine.models.find((m) => m.name === name);
  if (!model)
    throw unknownModel(
      name,
      engine.models.map((m) => m.name),
    );
  return model;
}

let counter = 0;
/**
 * A request id: `chatcmpl-…`, `cmpl-…`. With `base` (the HTTP request's X-Request-Id, as vLLM) it
 * is `prefix-base`; otherwise unique within the process.
 */
export function newRequestId(prefix: string, base?: string): string {
  if (base !== undefined) return `${prefix}-${base}`;
  counter = (counter + 1) % 0x100000000;
  return `${prefix}-${Date.now().toString(36)}${counter.toString(36).padStart(4, '0')}${Math.random().toString(36).slice(2, 8)}`;
}
