import { setTimeout as sleep } from 'node:timers/promises';
import { REVERIE } from '../../telemetry/names.ts';
import { prepareChat } from '../chat-completions/service.ts';
import { mapChunks } from '../common/chunk-mapper.ts';
import type { ApiContext } from '../common/context.ts';
import { failed, startGeneration } from '../common/generation.ts';
import { warnIgnored } from '../common/request.ts';
import { outputOptions } from '../common/route.ts';
import { ApiError, fromZodError, invalidRequest, toApiError } from '../errors.ts';
import { wsMessageMapper } from './messages.ts';
import { type ClientMessage, clientMessageSchema, type ServerMessage } from './protocol.ts';

/** How often a request waiting for a slow socket checks its queue (`ws` has no public drain event). */
const DRAIN_POLL_MS = 20;

/** A message that cannot be handled, with the id it named (if any). */
class MessageError {
  constructor(
    readonly id: string | null,
    readonly error: ApiError,
  ) {}
}

/** What a session needs from its socket; `ws` in production, a plain object in tests. */
export interface WsTransport {
  send(text: string): void;
  /** Bytes queued but not yet written to the network. */
  bufferedAmount(): number;
}

/**
 * One WebSocket connection's requests: parses client messages, runs chat requests concurrently
 * (at most `wsMaxConcurrent`), and turns their events into server messages. A bad message gets an
 * `error` and the connection stays usable. When the client reads too slowly and more than
 * `wsMaxBufferedBytes` are queued, the requests stop taking events until the socket drains: their
 * channels fill, and the engine's flow control pauses them, then cancels them past the stall
 * timeout (`slow_reader`), as for a slow SSE reader.
 */
export class StreamSession {
  readonly #ctx: ApiContext;
  readonly #transport: WsTransport;
  /** Live requests by client id. */
  readonly #live = new Map<string, AbortController>();
  readonly #runs = new Set<Promise<void>>();
  readonly #headers: Record<string, string | string[] | undefined>;
  #closed = false;

  /** @param headers the upgrade request's headers: their `traceparent` parents every request's span */
  constructor(
    ctx: ApiContext,
    transport: WsTransport,
    headers: Record<string, string | string[] | undefined> = {},
  ) {
    this.#ctx = ctx;
    this.#transport = transport;
    this.#headers = headers;
  }

  /** Number of requests in flight. */
  get liveCount(): number {
    return this.#live.size;
  }

  /** Handles one incoming message (text; binary is refused); a bad one gets an `error`. */
  onMessage(data: string | Buffer, isBinary = false): void {
    if (this.#closed) return;
    const parsed = this.#parse(data, isBinary);
    if (parsed instanceof MessageError) {
      this.#error(parsed.id, parsed.error);
      return;
    }
    const refusal = this.#admit(parsed);
    if (refusal) this.#error(parsed.id, refusal);
  }

  #parse(data: string | Buffer, isBinary: boolean): ClientMessage | MessageError {
    const limit = this.#ctx.config.maxBodyBytes;
    if (isBinary) {
      return new MessageError(
        null,
        invalidRequest('Binary messages are not supported: send JSON text', null, 'invalid_message'),
      );
    }
    const text = typeof data === 'string' ? data : data.toString('utf8');
    if (Buffer.byteLength(text) > limit) {
      return new MessageError(null, new ApiError('message_too_large', `Message exceeds ${limit} bytes`));
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      return new MessageError(
        null,
        invalidRequest(`Message is not valid JSON: ${(err as Error).message}`, null, 'invalid_json'),
      );
    }
    const id = typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id : null;
    const parsed = clientMessageSchema.safeParse(raw);
    return parsed.success ? parsed.data : new MessageError(id, fromZodError(parsed.error));
  }

  /** Starts or cancels a request; returns why it cannot, if it cannot. */
  #admit(msg: ClientMessage): ApiError | null {
    if (msg.type === 'response.cancel') {
      const live = this.#live.get(msg.id);
      if (!live) return invalidRequest(`No live request with id ${msg.id}`, 'id', 'unknown_id');
      live.abort();
      return null;
    }
    if (this.#live.has(msg.id)) {
      return invalidRequest(`A request with id ${msg.id} is still running`, 'id', 'duplicate_id');
    }
    const max = this.#ctx.config.wsMaxConcurrent;
    if (this.#live.size >= max) {
      return new ApiError('too_many_requests', `At most ${max} concurrent requests per connection`);
    }
    const abort = new AbortController();
    this.#live.set(msg.id, abort);
    const run = this.#run(msg, abort).finally(() => {
      this.#live.delete(msg.id);
      this.#runs.delete(run);
    });
    this.#runs.add(run);
    return null;
  }

  /** Cancels every request (the socket closed). */
  close(): void {
    this.#closed = true;
    for (const abort of this.#live.values()) abort.abort();
  }

  /** Resolves when every request has ended (for graceful shutdown and tests). */
  async idle(): Promise<void> {
    while (this.#runs.size > 0) await Promise.allSettled([...this.#runs]);
  }

  async #run(
    msg: Extract<ClientMessage, { type: 'response.create' }>,
    abort: AbortController,
  ): Promise<void> {
    const id = msg.id;
    // Each response.create is its own trace; its parent is the message's traceparent, else the upgrade's.
    const telemetry =
      this.#ctx.telemetry?.request(
        'chat',
        msg.traceparent ? { traceparent: msg.traceparent, tracestate: msg.tracestate } : this.#headers,
        { [REVERIE.transport]: 'websocket' },
      ) ?? null;
    try {
      const { stream: _stream, stream_options: _options, ...rest } = msg.request;
      let prepared: Awaited<ReturnType<typeof prepareChat>>;
      try {
        prepared = await prepareChat(rest, this.#ctx);
      } catch (err) {
        throw failed(telemetry, err);
      }
      warnIgnored('/v1/stream', prepared.ignored);
      const generation = startGeneration(prepared.request, {
        engine: this.#ctx.engine,
        telemetry,
        retryAfterSeconds: this.#ctx.config.retryAfterSeconds,
        signal: abort.signal,
        stream: true,
        output: outputOptions(prepared),
      });
      this.#send({
        type: 'response.created',
        id,
        response_id: prepared.request.id,
        model: prepared.model.name,
        created: prepared.created,
        choices: prepared.choices,
        ...(prepared.ignored.length > 0 && { ignored_fields: prepared.ignored }),
      });
      const mapper = wsMessageMapper(id, prepared, msg.stream_drafts === true);
      try {
        for await (const message of mapChunks(generation, mapper)) {
          if (abort.signal.aborted) break;
          this.#send(message);
          if (message.type === 'response.completed') return;
          await this.#writable(abort.signal);
        }
      } catch (err) {
        if (!abort.signal.aborted) this.#error(id, toApiError(err));
      }
      if (abort.signal.aborted && !this.#closed) this.#send({ type: 'response.cancelled', id });
    } catch (err) {
      this.#error(id, toApiError(err, this.#ctx.config.retryAfterSeconds));
    }
  }

  /** Waits while more than `wsMaxBufferedBytes` are queued on the socket (or until the request ends). */
  async #writable(signal: AbortSignal): Promise<void> {
    const limit = this.#ctx.config.wsMaxBufferedBytes;
    while (this.#transport.bufferedAmount() > limit && !signal.aborted && !this.#closed) {
      await sleep(DRAIN_POLL_MS, undefined, { signal }).catch(() => {});
    }
  }

  #send(msg: ServerMessage): void {
    if (this.#closed) return;
    this.#transport.send(JSON.stringify(msg));
  }

  #error(id: string | null, err: ApiError): void {
    this.#send({ type: 'error', id, error: err.toJSON().error });
  }
}
