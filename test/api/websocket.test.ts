import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { createApp } from '../../src/api/app.ts';
import { parseApiConfig } from '../../src/api/config.ts';
import { startServer } from '../../src/api/server.ts';
import { BEARER_PROTOCOL_PREFIX, WS_PROTOCOL } from '../../src/api/ws/subprotocol.ts';
import { type LiveServer, LONG_REQUEST, runningAfterProbe, startLiveServer } from './live-server.ts';

/** The /v1/stream WebSocket protocol against a live server (real engine, tiny model). */

type Msg = Record<string, unknown> & { type: string; id?: string | null };

/** A client that queues incoming messages and lets tests wait for one matching a predicate. */
class Client {
  readonly ws: WebSocket;
  readonly received: Msg[] = [];
  #waiters: { match: (m: Msg) => boolean; resolve: (m: Msg) => void }[] = [];

  constructor(
    url: string,
    headers: Record<string, string> = {},
    options: WebSocket.ClientOptions = {},
    protocols: string[] = [],
  ) {
    this.ws = new WebSocket(url.replace(/^http/, 'ws') + '/v1/stream', protocols, { headers, ...options });
    this.ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as Msg;
      this.received.push(msg);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(msg)) return true;
        w.resolve(msg);
        return false;
      });
    });
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** The first message (already received or future) that matches; fails after `ms`. */
  next(match: (m: Msg) => boolean, ms = 10_000): Promise<Msg> {
    const seen = this.received.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${ms} ms`)), ms);
      this.#waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** The close code and time once the socket closes (listen before it can happen); fails after `ms`. */
  closed(ms = 2_000): Promise<{ code: number; at: number }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms);
      this.ws.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, at: Date.now() });
      });
    });
  }

  of(id: string): Msg[] {
    return this.received.filter((m) => m.id === id);
  }

  close(): void {
    this.ws.close();
  }
}

const chat = (extra: Record<string, unknown> = {}) => ({
  model: 'tiny',
  messages: [{ role: 'user', content: 'hi' }],
  max_tokens: 8,
  temperature: 0,
  ...extra,
});

const LONG = LONG_REQUEST;

const ended = (id: string) => (m: Msg) =>
  m.id === id && ['response.completed', 'response.cancelled', 'error'].includes(m.type);

describe('WebSocket /v1/stream (live server, real engine)', () => {
  let live: LiveServer;
  before(async () => {
    live = await startLiveServer({ config: { wsMaxConcurrent: 3, maxBodyBytes: 8 * 1024 } });
  });
  after(async () => {
    await live.close();
  });

  it('multiplexes two requests on one socket and cancels a third', async () => {
    const client = new Client(live.url);
    await client.open();
    client.send({
      type: 'response.create',
      id: 'a',
      // EOS banned: the answer runs its 8 tokens, so text deltas are certain.
      request: chat({
        thinking: { mode: 'soft', max_tokens: 5, trace: true },
        logit_bias: LONG.logit_bias,
        skip_special_tokens: false,
      }),
    });
    client.send({
      type: 'response.create',
      id: 'b',
      // An unknown field is ignored, as over HTTP, and named in response.created.
      request: chat({ thinking: { mode: 'off' }, superposition: { drafts: 3 }, verbosity: 'low' }),
    });
    client.send({ type: 'response.create', id: 'c', request: LONG });
    await client.next((m) => m.id === 'c' && m.type === 'response.output_text.delta');
    client.send({ type: 'response.cancel', id: 'c' });

    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => client.next(ended(id))));
    assert.equal(a!.type, 'response.completed');
    assert.equal(b!.type, 'response.completed');
    assert.equal(c!.type, 'response.cancelled');

    // a: created first, reasoning deltas (with the trace) before answer deltas, usage at the end.
    const msgsA = client.of('a');
    assert.equal(msgsA[0]!.type, 'response.created');
    const reasoning = msgsA.filter((m) => m.type === 'response.reasoning.delta');
    assert.ok(reasoning.length >= 1);
    for (const r of reasoning) {
      const trace = r.trace as { top_k: unknown[]; entropy: number };
      assert.ok(trace.top_k.length > 0 && trace.entropy >= 0);
    }
    const firstText = msgsA.findIndex((m) => m.type === 'response.output_text.delta');
    assert.ok(firstText >= 0, 'answer deltas');
    assert.ok(msgsA.lastIndexOf(reasoning[reasoning.length - 1]!) < firstText);
    // Reasoning tokens as vLLM counts them: a repeated `<think>` (259, the random model's favourite) is not one.
    const thoughts = reasoning.map((r) => (r.trace as { id: number }).id);
    assert.equal(
      (a!.usage as { completion_tokens_details: { reasoning_tokens: number } }).completion_tokens_details
        .reasoning_tokens,
      thoughts.filter((id) => id !== 259).length,
    );
    // The engine's timings, in ms from submission: queue ≤ first token ≤ total.
    const t = a!.timings as Record<string, number>;
    assert.deepEqual(Object.keys(t).sort(), ['first_token_ms', 'prefill_ms', 'queue_ms', 'total_ms']);
    assert.ok(t.queue_ms! >= 0 && t.prefill_ms! >= 0, JSON.stringify(t));
    assert.ok(t.queue_ms! <= t.first_token_ms! && t.first_token_ms! <= t.total_ms!, JSON.stringify(t));

    // b: three drafts, text deltas carry the choice index, one finish reason per draft.
    assert.equal(client.of('b')[0]!.choices, 3);
    assert.deepEqual(client.of('b')[0]!.ignored_fields, ['verbosity']);
    assert.equal(msgsA[0]!.ignored_fields, undefined, 'nothing ignored: no field');
    const indices = new Set(
      client
        .of('b')
        .filter((m) => m.type === 'response.output_text.delta')
        .map((m) => m.index),
    );
    assert.ok([...indices].every((i) => i === 0 || i === 1 || i === 2));
    assert.equal((b!.finish_reasons as unknown[]).length, 3);

    // c was really stopped: a probe's fresh stats show no rows left.
    assert.equal(await runningAfterProbe(live), 0);
    client.close();
  });

  it('stream_drafts sends the live and finished drafts after every superposed step', async () => {
    const client = new Client(live.url);
    await client.open();
    const request = chat({ thinking: { mode: 'off' }, superposition: { drafts: 3 }, max_tokens: 6 });
    client.send({ type: 'response.create', id: 'd1', request, stream_drafts: true });
    client.send({ type: 'response.create', id: 'd2', request });
    const [d1] = await Promise.all(['d1', 'd2'].map((id) => client.next(ended(id))));
    assert.equal(d1!.type, 'response.completed');
    const updates = client.of('d1').filter((m) => m.type === 'response.drafts');
    assert.ok(updates.length >= 1 && updates.length <= 6, `${updates.length} steps`);
    updates.forEach((u, i) => {
      assert.equal(u.step, i + 1);
      const drafts = u.drafts as { text: string; score: number; finished: boolean }[];
      assert.ok(drafts.length >= 1 && drafts.length <= 6, 'k live drafts plus at most k finished');
      for (const d of drafts) assert.ok(typeof d.text === 'string' && Number.isFinite(d.score));
    });
    // The last update holds every returned draft's text (the answer is ranked from that pool).
    const lastTexts = new Set((updates.at(-1)!.drafts as { text: string }[]).map((d) => d.text));
    const answers = new Map<number, string>();
    for (const m of client.of('d1').filter((x) => x.type === 'response.output_text.delta'))
      answers.set(m.index as number, (answers.get(m.index as number) ?? '') + (m.delta as string));
    for (const text of answers.values()) assert.ok(lastTexts.has(text), `"${text}" was a streamed draft`);
    assert.equal(client.of('d2').filter((m) => m.type === 'response.drafts').length, 0, 'opt-in only');
    client.close();
  });

  it('answers malformed messages with `error` and stays usable', async () => {
    const client = new Client(live.url);
    await client.open();
    const bad: [unknown, string | null, string][] = [
      ['not json', null, 'invalid_json'],
      [{ type: 'response.dance', id: 'x1' }, 'x1', 'invalid_value'],
      [{ type: 'response.create', id: 'x2' }, 'x2', 'invalid_value'],
      [{ type: 'response.create', id: 'x3', request: chat({ temperature: -1 }) }, 'x3', 'invalid_value'],
      [{ type: 'response.create', id: 'x4', request: chat({ model: 'nope' }) }, 'x4', 'model_not_found'],
      [
        { type: 'response.create', id: 'x5', request: chat({ functions: [] }) },
        'x5',
        'unsupported_parameter',
      ],
      [{ type: 'response.cancel', id: 'never-started' }, 'never-started', 'unknown_id'],
      [
        {
          type: 'response.create',
          id: 'x6',
          request: chat({ messages: [{ role: 'user', content: 'x'.repeat(9000) }] }),
        },
        null,
        'message_too_large',
      ],
    ];
    for (const [msg, id, code] of bad) {
      const before = client.received.length;
      client.send(msg);
      const err = await client.next((m, i = client.received.indexOf(m)) => i >= before && m.type === 'error');
      assert.equal(err.id, id, JSON.stringify(err));
      assert.equal((err.error as { code: string }).code, code, JSON.stringify(err));
    }
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await client.next((m) => m.type === 'error' && (m.error as { code: string }).code === 'invalid_message');

    client.send({ type: 'response.create', id: 'ok', request: chat({ thinking: { mode: 'off' } }) });
    const done = await client.next(ended('ok'));
    assert.equal(done.type, 'response.completed');
    client.close();
  });

  it('limits concurrent requests per connection and refuses duplicate ids', async () => {
    const client = new Client(live.url);
    await client.open();
    for (const id of ['l1', 'l2', 'l3']) client.send({ type: 'response.create', id, request: LONG });
    client.send({ type: 'response.create', id: 'l1', request: LONG });
    client.send({ type: 'response.create', id: 'l4', request: LONG });
    const dup = await client.next((m) => m.type === 'error' && m.id === 'l1');
    assert.equal((dup.error as { code: string }).code, 'duplicate_id');
    const over = await client.next((m) => m.type === 'error' && m.id === 'l4');
    assert.equal((over.error as { code: string }).code, 'too_many_requests');
    for (const id of ['l1', 'l2', 'l3']) client.send({ type: 'response.cancel', id });
    // (l1 also has its duplicate-id error: wait for the end of the request itself.)
    for (const id of ['l1', 'l2', 'l3']) {
      await client.next(
        (m) => m.id === id && (m.type === 'response.cancelled' || m.type === 'response.completed'),
      );
    }
    assert.equal(client.received.filter((m) => m.type === 'response.cancelled').length, 3);
    client.close();
  });

  it('closing the socket cancels its requests', async () => {
    const client = new Client(live.url);
    await client.open();
    client.send({ type: 'response.create', id: 'gone', request: LONG });
    await client.next((m) => m.id === 'gone' && m.type === 'response.output_text.delta');
    client.ws.terminate();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await runningAfterProbe(live), 0);
  });

  it('refuses the upgrade without a valid key when keys are set; browsers send it as a subprotocol', async () => {
    const guarded = await startLiveServer({ config: { apiKeys: ['k1', 'clé-ü'] } });
    const bearer = (key: string) => BEARER_PROTOCOL_PREFIX + Buffer.from(key, 'utf8').toString('base64url');
    try {
      const refused = new Client(guarded.url);
      await assert.rejects(refused.open(), /401/);
      const allowed = new Client(guarded.url, { authorization: 'Bearer k1' });
      await allowed.open();
      allowed.send({ type: 'response.create', id: 'k', request: chat({ thinking: { mode: 'off' } }) });
      assert.equal((await allowed.next(ended('k'))).type, 'response.completed');
      allowed.close();

      // The browser way: the key (any UTF-8) in a bearer subprotocol beside reverie.v1, which the
      // server selects: the token itself is never echoed back.
      for (const key of ['k1', 'clé-ü']) {
        const browser = new Client(guarded.url, {}, {}, [WS_PROTOCOL, bearer(key)]);
        await browser.open();
        assert.equal(browser.ws.protocol, WS_PROTOCOL);
        browser.send({ type: 'response.create', id: 'b', request: chat({ thinking: { mode: 'off' } }) });
        assert.equal((await browser.next(ended('b'))).type, 'response.completed');
        browser.close();
      }
      for (const [protocols, status] of [
        [[WS_PROTOCOL, bearer('k2')], /401/],
        [[WS_PROTOCOL], /401/],
        [[bearer('k1')], /400/],
        [[WS_PROTOCOL, bearer('k1'), bearer('k1x')], /400/],
      ] as const) {
        const client = new Client(guarded.url, {}, {}, [...protocols]);
        await assert.rejects(client.open(), status, protocols.join(', '));
      }
    } finally {
      await guarded.close();
    }
  });

  it('selects reverie.v1 when offered and no protocol otherwise (never the first offered)', async () => {
    const v1 = new Client(live.url, {}, {}, ['other', WS_PROTOCOL]);
    await v1.open();
    assert.equal(v1.ws.protocol, WS_PROTOCOL);
    v1.close();
    // RFC 6455: the server selects none of ['other']; the client then fails the handshake.
    const other = new Client(live.url, {}, {}, ['other']);
    await assert.rejects(other.open(), /no subprotocol/);
    const none = new Client(live.url);
    await none.open();
    assert.equal(none.ws.protocol, '');
    none.close();
  });

  it('closes a frame over twice the message limit with 1009', async () => {
    const client = new Client(live.url);
    await client.open();
    const closed = client.closed();
    client.send('x'.repeat(2 * 8 * 1024 + 1));
    assert.equal((await closed).code, 1009);
    assert.ok(!client.received.some((m) => m.type === 'error'), 'closed, not answered');
  });

  it('heartbeat: a client that does not answer pings is closed, one that does stays open', async () => {
    const heartbeatMs = 50;
    const app = createApp({ engine: live.engine, config: parseApiConfig({ wsHeartbeatMs: heartbeatMs }) });
    const running = await startServer(app, { host: '127.0.0.1', port: 0 });
    try {
      const silent = new Client(running.url, {}, { autoPong: false });
      const normal = new Client(running.url);
      await Promise.all([silent.open(), normal.open()]);
      const opened = Date.now();
      let pings = 0;
      normal.ws.on('ping', () => pings++);
      const { at } = await silent.closed(1_000);
      assert.ok(at - opened <= 5 * heartbeatMs, `closed ${at - opened} ms after opening`);
      await new Promise((r) => setTimeout(r, 6 * heartbeatMs - (Date.now() - opened)));
      assert.equal(normal.ws.readyState, WebSocket.OPEN, 'the client that answers stays open');
      assert.ok(pings >= 4, `${pings} pings in 6 intervals`);
      normal.close();
    } finally {
      await running.close(1_000);
      await app.telemetry.shutdown();
    }
  });
});
