import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../src/api/app.ts';
import { makeKeyChecker } from '../../src/api/auth.ts';
import { parseApiConfig } from '../../src/api/config.ts';
import { StreamSession } from '../../src/api/ws/session.ts';
import { EngineError } from '../../src/engine/types.ts';
import { byteModelInfo, defaultScript, FakeEngine } from './fake-engine.ts';

/**
 * Unit tests of the HTTP layer through `app.request()` (no socket) on a scripted engine: engine
 * error mapping, health states, metrics, auth and the WebSocket session's limits.
 */

const chatBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], ...extra });
const post = (app: ReturnType<typeof createApp>, body: string, path = '/v1/chat/completions') =>
  app.request(path, { method: 'POST', body, headers: { 'content-type': 'application/json' } });

describe('HTTP layer on a scripted engine', () => {
  it('/health follows the engine state', async () => {
    const engine = new FakeEngine();
    const app = createApp({ engine });
    for (const [state, status] of [
      ['starting', 503],
      ['ready', 200],
      ['dead', 503],
      ['closed', 503],
    ] as const) {
      engine.state = state;
      const res = await app.request('/health');
      assert.equal(res.status, status, state);
      assert.deepEqual(await res.json(), { status: state });
    }
  });

  it('maps engine refusals: overloaded → 429 with Retry-After, unavailable → 503, invalid → 400 with param', async () => {
    const engine = new FakeEngine();
    const app = createApp({ engine, config: parseApiConfig({ retryAfterSeconds: 7 }) });
    engine.admit = () => {
      throw new EngineError('overloaded', 'the queue is full');
    };
    let res = await post(app, chatBody());
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '7');
    assert.equal(((await res.json()) as { error: { type: string } }).error.type, 'rate_limit_error');

    engine.admit = () => {
      throw new EngineError('invalid_value', 'too long', 'max_tokens');
    };
    res = await post(app, chatBody());
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { param: string } }).error.param, 'max_tokens');

    engine.admit = () => {};
    engine.state = 'dead';
    res = await post(app, chatBody());
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'unavailable');
  });

  it('an engine failure mid-stream becomes an SSE error line, then [DONE]', async () => {
    const engine = new FakeEngine({
      script: async function* () {
        yield { type: 'scheduled' };
        yield { type: 'content', choice: 0, text: 'Hel', tokenIds: [72, 101, 108] };
        yield { type: 'error', error: new EngineError('internal_error', 'the runner failed') };
      },
    });
    const app = createApp({ engine });
    const res = await post(app, chatBody({ stream: true, thinking: { mode: 'off' } }));
    assert.equal(res.status, 200);
    const events = (await res.text()).split('\n\n').filter(Boolean);
    assert.equal(events[events.length - 1], 'data: [DONE]');
    const error = JSON.parse(events[events.length - 2]!.slice(6)) as {
      error: { type: string; message: string };
    };
    assert.equal(error.error.type, 'server_error');
    assert.match(error.error.message, /runner failed/);
    assert.ok(events.some((e) => e.includes('"content":"Hel"')));
  });

  it('a failure before any output on a JSON request is an HTTP error', async () => {
    const engine = new FakeEngine({
      script: async function* () {
        yield { type: 'error', error: new EngineError('internal_error', 'boom') };
      },
    });
    const res = await post(createApp({ engine }), chatBody());
    assert.equal(res.status, 500);
    assert.equal(((await res.json()) as { error: { type: string } }).error.type, 'server_error');
  });

  it('fills DecodingParams from the request and the model', async () => {
    const engine = new FakeEngine();
    const app = createApp({ engine });
    await (
      await post(
        app,
        chatBody({ max_completion_tokens: 9, temperature: 0.5, stop: 'x', thinking: { mode: 'soft' } }),
      )
    ).json();
    const req = engine.requests[0]!;
    assert.equal(req.params.max_tokens, 9);
    assert.equal(req.params.temperature, 0.5);
    assert.equal(req.params.stop, 'x');
    assert.equal(req.params.thinking?.mode, 'soft');
    assert.equal(req.startsInThinking, true, 'the template opened <think>');
    await (await post(app, chatBody({ thinking: { mode: 'off' } }))).json();
    assert.equal(
      engine.requests[1]!.startsInThinking,
      false,
      'enable_thinking=false renders <think></think>',
    );
    // Unset fields stay unset: the engine resolves them against the manifest's defaults.
    assert.equal(engine.requests[1]!.params.temperature, undefined);
  });

  it('a model without think markers refuses thinking modes and never starts in thinking', async () => {
    const engine = new FakeEngine({
      models: [byteModelInfo('plain', { thinking: null, modes: ['discrete'] })],
    });
    const app = createApp({ engine });
    const res = await post(
      app,
      JSON.stringify({
        model: 'plain',
        messages: [{ role: 'user', content: 'hi' }],
        thinking: { mode: 'soft' },
      }),
    );
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { param: string } }).error.param, 'thinking.mode');
    const sp = await post(
      app,
      JSON.stringify({
        model: 'plain',
        messages: [{ role: 'user', content: 'hi' }],
        superposition: { drafts: 2 },
      }),
    );
    assert.equal(sp.status, 400, 'superposition needs `superposed` in the manifest modes');
  });

  it('superposed drafts share the reasoning of choice 0 in JSON', async () => {
    const engine = new FakeEngine({ script: defaultScript });
    const res = await post(
      createApp({ engine }),
      chatBody({ superposition: { drafts: 3 }, thinking: { mode: 'soft' } }),
    );
    const body = (await res.json()) as { choices: { message: { reasoning_content: string } }[] };
    assert.deepEqual(
      body.choices.map((c) => c.message.reasoning_content),
      ['hm', 'hm', 'hm'],
    );
  });

  it('/metrics exposes the engine gauges and the request histograms', async () => {
    const engine = new FakeEngine();
    const app = createApp({ engine });
    await (await post(app, chatBody())).json();
    const text = await (await app.request('/metrics')).text();
    for (const name of [
      'reverie_num_requests_running',
      'reverie_num_requests_waiting',
      'reverie_kv_cache_usage_perc',
      'reverie_prompt_tokens_total',
      'reverie_generation_tokens_total',
      'reverie_time_to_first_token_seconds_bucket',
      'reverie_inter_token_latency_seconds_bucket',
      'reverie_e2e_request_latency_seconds_count',
      'reverie_request_success_total',
    ]) {
      assert.ok(text.includes(name), name);
    }
    assert.match(text, /reverie_kv_cache_usage_perc\{[^}]*\} 0\.25/);
    const budget = engine.models[0]!.kvBudget.bytes;
    assert.match(
      text,
      new RegExp(`reverie_kv_cache_budget_bytes\\{[^}]*model_name="tiny"[^}]*\\} ${budget}\\b`),
    );
    for (const name of [
      'reverie_num_requests_paused',
      'reverie_stream_buffered_events',
      'reverie_request_pauses_total',
    ]) {
      assert.ok(text.includes(name), name);
    }
    assert.match(text, /reverie_request_stall_outcomes_total\{[^}]*outcome="resumed"[^}]*\} 0/);
    assert.match(text, /reverie_request_stall_outcomes_total\{[^}]*outcome="cancelled"[^}]*\} 0/);
  });
});

describe('API keys', () => {
  it('accepts exactly the configured keys', () => {
    const check = makeKeyChecker(['alpha', 'beta-key']);
    assert.equal(check('Bearer alpha'), true);
    assert.equal(check('bearer beta-key'), true);
    for (const bad of [
      'Bearer alph',
      'Bearer alphaa',
      'alpha',
      'Basic alpha',
      'Bearer ',
      '',
      null,
      undefined,
    ]) {
      assert.equal(check(bad), false, String(bad));
    }
    assert.equal(makeKeyChecker([])(undefined), true, 'no keys: open');
  });
});

describe('WebSocket session limits', () => {
  it('stops taking events while more than the buffer limit is queued, and goes on once it drains', async () => {
    let produced = 0;
    const engine = new FakeEngine({
      script: async function* () {
        yield { type: 'scheduled' };
        for (let i = 0; i < 100; i++) {
          produced++;
          yield { type: 'content', choice: 0, text: 'x'.repeat(100), tokenIds: [120] };
        }
        yield* defaultScript({ id: 'x', model: 'tiny', prompt: [1], startsInThinking: false, params: {} });
      },
    });
    const app = createApp({ engine, config: parseApiConfig({ wsMaxBufferedBytes: 2000 }) });
    const sent: string[] = [];
    let buffered = 0;
    // A reader that reads nothing until told to: everything sent stays queued.
    const session = new StreamSession(app.context, {
      send: (text) => {
        sent.push(text);
        buffered += text.length;
      },
      bufferedAmount: () => buffered,
    });
    session.onMessage(JSON.stringify({ type: 'response.create', id: 's', request: JSON.parse(chatBody()) }));
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(buffered <= 2000 + 300, `bounded: ${buffered} bytes queued`);
    assert.ok(produced < 30, `the session stopped pulling events: ${produced} taken`);
    assert.equal(session.liveCount, 1, 'the request waits, it is not cancelled');
    buffered = 0; // the reader catches up all at once
    const drain = setInterval(() => {
      buffered = 0;
    }, 5).unref();
    await session.idle();
    clearInterval(drain);
    assert.equal(produced, 100);
    const last = JSON.parse(sent[sent.length - 1]!) as { type: string };
    assert.equal(last.type, 'response.completed');
    assert.deepEqual(engine.cancelled, []);
  });
});
