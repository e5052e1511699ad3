import type { z } from 'zod';
import type { Engine, ModelInfo } from '../../engine/types.ts';
import { fromZodError, invalidRequest, unavailable, unknownModel, unsupportedParameter } from '../errors.ts';

/**
 * Steps every endpoint takes before it can build a generate request: strip or refuse unsupported
 * OpenAI fields, parse with zod, and find the model.
 */

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
