import { toApiError } from '../errors.ts';

/**
 * Server-sent events, OpenAI style: one `data: {json}` line per chunk, `data: [DONE]` at the end.
 * The body is pulled (the Node server waits for the socket to drain): a client that reads slowly
 * leaves its events in the request's bounded channel, which pauses the request and, past the
 * stall timeout, cancels it (src/engine/flow-control.ts); a client that disconnects cancels the
 * stream, and `onCancel` cancels the generation. An error after the first byte is sent as a
 * `data: {"error": …}` line, then `[DONE]`.
 */

const encoder = new TextEncoder();
const frame = (payload: string) => encoder.encode(`data: ${payload}\n\n`);

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
): Response {
  let finished = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (finished) return;
      try {
        const next = await chunks.next();
        if (finished) return;
        if (!next.done) {
          controller.enqueue(frame(JSON.stringify(next.value)));
          return;
        }
      } catch (err) {
        if (finished) return;
        controller.enqueue(frame(JSON.stringify(toApiError(err).toJSON())));
      }
      finished = true;
      controller.enqueue(frame('[DONE]'));
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
