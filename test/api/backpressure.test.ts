import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { type LiveServer, LONG_REQUEST, startLiveServer } from './live-server.ts';

/**
 * Flow control on the real engine: a client that reads one byte a second over a raw socket makes
 * its request pause (out of the batch, KV kept) with a bounded number of events buffered; the
 * request resumes when the client catches up, or is cancelled after the stall timeout; both show
 * on /metrics.
 */

const MAX_BUFFERED = 256;
const STALL_TIMEOUT_MS = 2_000;
/** Events one step adds for a 16-choice request (one content event per choice). */
const STEP_EVENTS = 16;

/**
 * 16 choices × 400 tokens with 20 top logprobs each: about 10 MB of SSE, more than twice what the
 * sockets between server and client hold (Linux: up to 4 MB of send buffer).
 */
const TOKENS = 400;
const BIG = {
  ...LONG_REQUEST,
  max_tokens: TOKENS,
  stream: true,
  stream_options: { include_usage: true },
  logprobs: true,
  top_logprobs: 20,
};

/** An HTTP/1.1 client on a raw socket that reads one byte a second until told to catch up. */
class SlowReader {
  readonly #socket: Socket;
  readonly #chunks: Buffer[] = [];
  readonly #timer: NodeJS.Timeout;
  readonly ended: Promise<void>;
  #done: () => void = () => {};

  constructor(url: string, body: unknown) {
    const { hostname, port } = new URL(url);
    this.#socket = connect(Number(port), hostname);
    const json = JSON.stringify(body);
    this.#socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    );
    this.#socket.pause();
    this.#timer = setInterval(() => {
      const byte = this.#socket.read(1) as Buffer | null;
      if (byte) this.#chunks.push(byte);
    }, 1000);
    this.ended = new Promise((resolve) => {
      this.#done = resolve;
      this.#socket.once('close', () => resolve());
    });
  }

  /** Reads everything from now on. */
  catchUp(): void {
    clearInterval(this.#timer);
    this.#socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      // The last chunk of a chunked body (SSE responses keep the connection alive).
      if (Buffer.concat(this.#chunks.slice(-2)).subarray(-7).toString('latin1') === '\r\n0\r\n\r\n') {
        this.#done();
      }
    });
    this.#socket.resume();
  }

  destroy(): void {
    clearInterval(this.#timer);
    this.#socket.destroy();
  }

  /** The SSE payloads of the (chunked) response body, `[DONE]` excluded. */
  // biome-ignore lint/suspicious/noExplicitAny: chunks are read field by field, as a client would
  events(): any[] {
    const raw = Buffer.concat(this.#chunks);
    const head = raw.indexOf('\r\n\r\n');
    assert.match(raw.subarray(0, head).toString('latin1'), /^HTTP\/1\.1 200/);
    const parts: Buffer[] = [];
    for (let at = head + 4; ; ) {
      const eol = raw.indexOf('\r\n', at);
      const size = Number.parseInt(raw.subarray(at, eol).toString('latin1'), 16);
      if (!size) break;
      parts.push(raw.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    const body = Buffer.concat(parts).toString('utf8');
    assert.ok(body.endsWith('data: [DONE]\n\n'), 'the stream ended properly');
    return body
      .split('\n\n')
      .filter((e) => e.length > 0 && e !== 'data: [DONE]')
      .map((e) => JSON.parse(e.slice('data: '.length)));
  }
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A sample of /metrics, by its full name and labels (`name{outcome="resumed"}`). */
async function metric(live: LiveServer, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${live.url}/metrics`)).text();
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (match?.[1] === name && (match[2] ?? '').includes(labels)) return Number(match[3]);
  }
  return 0;
}

describe('flow control: a slow reader pauses its request (live server, real engine)', () => {
  let live: LiveServer;
  before(async () => {
    live = await startLiveServer({
      engine: { maxBufferedEvents: MAX_BUFFERED, stallTimeoutMs: STALL_TIMEOUT_MS },
    });
  });
  after(() => live.close());

  it('pauses with bounded buffering, KV kept; resumes when the reader catches up; nothing lost', async () => {
    const reader = new SlowReader(live.url, BIG);
    try {
      await until(() => live.engine.stats().paused === 1, 20_000, 'the request to pause');
      // The worker reports its stats with every message it handles, the pause included.
      await until(() => live.engine.stats().running === 0, 2_000, 'the rows to leave the batch');
      const paused = live.engine.stats();
      assert.ok(paused.kvUsage > 0, 'KV kept while paused');
      // The reader took part of the window before it stalled: at least half of it is left unread.
      assert.ok(paused.bufferedEvents >= MAX_BUFFERED / 2, `buffered ${paused.bufferedEvents}`);
      assert.ok(
        paused.bufferedEvents <= MAX_BUFFERED + STEP_EVENTS,
        `bounded: ${paused.bufferedEvents} events buffered (limit ${MAX_BUFFERED})`,
      );
      assert.equal(await metric(live, 'reverie_num_requests_paused'), 1);
      assert.equal(await metric(live, 'reverie_stream_buffered_events'), paused.bufferedEvents);
      // Over half a second at one byte a second: nothing moves.
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(
        live.engine.stats().bufferedEvents,
        paused.bufferedEvents,
        'no event produced while paused',
      );
      assert.equal(live.engine.stats().paused, 1);

      reader.catchUp();
      await reader.ended;
      const events = reader.events();
      const usage = events.at(-1).usage;
      assert.equal(usage.completion_tokens, 16 * TOKENS);
      const streamed = events.reduce(
        (sum, e) =>
          sum +
          e.choices.reduce(
            (n: number, c: { logprobs?: { content: unknown[] } }) => n + (c.logprobs?.content.length ?? 0),
            0,
          ),
        0,
      );
      assert.equal(streamed, usage.completion_tokens, 'every token reached the client');
      assert.equal(live.engine.stats().paused, 0);
      assert.ok((await metric(live, 'reverie_request_pauses_total')) >= 1);
      assert.ok((await metric(live, 'reverie_request_stall_outcomes_total', 'outcome="resumed"')) >= 1);
    } finally {
      reader.destroy();
    }
  });

  it('cancels a request whose reader stays stalled past the timeout, frees its KV, counts it', async () => {
    const before = live.engine.stats().stallCancels;
    const reader = new SlowReader(live.url, BIG);
    try {
      await until(() => live.engine.stats().paused === 1, 20_000, 'the request to pause');
      const pausedAt = Date.now();
      await until(
        () => live.engine.stats().stallCancels === before + 1,
        STALL_TIMEOUT_MS + 5_000,
        'the cancel',
      );
      assert.ok(Date.now() - pausedAt >= STALL_TIMEOUT_MS - 100, 'not before the timeout');
      await until(() => live.engine.stats().kvUsage === 0, 2_000, 'the KV to be freed');
      assert.equal(live.engine.stats().paused, 0);
      assert.equal(live.engine.stats().running, 0);
      assert.equal(
        await metric(live, 'reverie_request_stall_outcomes_total', 'outcome="cancelled"'),
        before + 1,
      );
      // The client comes back: what it left unread, then the reason.
      reader.catchUp();
      await reader.ended;
      const last = reader.events().at(-1);
      assert.equal(last.error.code, 'slow_reader');
      assert.equal(last.error.type, 'rate_limit_error');
    } finally {
      reader.destroy();
    }
  });

  it('WebSocket: a client that stops reading pauses its request the same way, and resumes', async () => {
    const ws = new WebSocket(`${live.url.replace(/^http/, 'ws')}/v1/stream`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const received: { type: string }[] = [];
    const completed = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { type: string };
        received.push(msg);
        if (msg.type === 'response.completed' || msg.type === 'error') resolve();
      }),
    );
    try {
      const { stream: _, stream_options: __, ...request } = BIG;
      ws.send(JSON.stringify({ type: 'response.create', id: 'w', request }));
      ws.pause();
      await until(() => live.engine.stats().paused === 1, 20_000, 'the request to pause');
      assert.ok(live.engine.stats().bufferedEvents <= MAX_BUFFERED + STEP_EVENTS);
      ws.resume();
      await completed;
      assert.equal(received.at(-1)?.type, 'response.completed');
      const deltas = received.filter((m) => m.type === 'response.output_text.delta').length;
      assert.ok(deltas >= 16 * TOKENS, `${deltas} deltas`);
    } finally {
      ws.close();
    }
  });
});
