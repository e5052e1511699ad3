import { bodyTooLarge, invalidRequest } from '../errors.ts';

/**
 * Reads a JSON request body, refusing more than `limit` bytes (413) before buffering them: the
 * Content-Length is checked first, then the bytes actually received.
 * @throws ApiError 413 over the limit, 400 for a body that is not JSON
 */
export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) throw bodyTooLarge(limit);
  const type = request.headers.get('content-type') ?? '';
  if (type && !/^application\/(?:[\w.+-]*\+)?json\b/i.test(type)) {
    throw invalidRequest(`Content-Type must be application/json, got ${type}`, null, 'invalid_content_type');
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw bodyTooLarge(limit);
      }
      chunks.push(value);
    }
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '')
    throw invalidRequest('The request body is empty: send a JSON object', null, 'invalid_json');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalidRequest(
      `The request body is not valid JSON: ${(err as Error).message}`,
      null,
      'invalid_json',
    );
  }
}

/** An AbortController that also aborts when `parent` does (the HTTP request's signal). */
export function linkedAbort(parent: AbortSignal): AbortController {
  const controller = new AbortController();
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener('abort', () => controller.abort(parent.reason), { once: true });
  return controller;
}
