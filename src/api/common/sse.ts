import { type ApiError, toApiError } from '../errors.ts';

/**
 * Server-sent events, OpenAI style: one `data: {json}` line per chunk, `data: [DONE]` at the end.
 * The body is pulled (the Node server waits for the socket to drain): a client that reads slowly
 * leaves its events in the request's bounded channel, which pauses the request and, past the
 * stall timeout, cancels it (src/engine/flow-control.ts); a client that disconnects cancels the
 * stream, and `onCancel` cancels the generation. An error after the first byte is sent as a
 * `data: {"error": …}` line, then `[DONE]`.
 */

const encoder = new TextEncoder();
const frame = (payload: string, event?: string) =>
  encoder.encode(`${event ? `event: ${event}\n` : ''}data: ${payload}\n\n`);

/** How a protocol frames its events: chat and completions send `data:` lines then `[DONE]`. */
export interface SseFormat {
  /** Each chunk's `event:` name (the Responses API names every event by its `type`). */
  event?: (chunk: unknown) => string;
  /** The `data:` line of an error after the first byte (default: `{"error": …}`). */
  error?: (err: ApiError) => { event?: string; data: unknown };
  /** End with `data: [DONE]` (default true; the Responses API ends with its last event). */
  done?: boolean;
}

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
} as const;

/**
 * @example return sseResponse(chatChunks(prepared, generation), () => abort.abort());
 */
export function sseResponse(
  chunks: AsyncGenerator<unknown, void, undefined>,
  onCancel: () => void,
  format: SseFormat = {},
): Response {
  let finished = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (finished) return;
      try {
        const next = await chunks.next();
        if (finished) return;
        if (!next.done) {
          controller.enqueue(frame(JSON.stringify(next.value), format.event?.(next.value)));
          return;
        }
      } catch (err) {
        if (finished) return;
        const e = toApiError(err);
        const out = format.error?.(e) ?? { data: e.toJSON() };
        controller.enqueue(frame(JSON.stringify(out.data), out.event));
      }
      finished = true;
      if (format.done ?? true) controller.enqueue(frame('[DONE]'));
      controller.close();
    },
    cancel() {
      if (finished) return;
      finished = true;
      onCancel();
      void chunks.return(undefined).catch(() => {});
    },
  });
  return new Response(stream, { status: 200, headers: SSE_HEADERS });
}
