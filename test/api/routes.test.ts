import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../src/api/app.ts';
import { type ApiConfig, parseApiConfig } from '../../src/api/config.ts';
import { FakeEngine } from './fake-engine.ts';

/**
 * The routes and middleware that do not generate: CORS, X-Request-Id, 405, /metrics access,
 * /version, /tokenize and /detokenize, /v1/models' root and parent, chat content parts. Through
 * `app.request()` on a scripted engine with the real byte tokenizer and chat template.
 */

const KEY = 'k';
const auth = { authorization: `Bearer ${KEY}` };
const json = { 'content-type': 'application/json' };

function app(config: Partial<ApiConfig> = {}) {
  return createApp({ engine: new FakeEngine(), config: parseApiConfig({ apiKeys: [KEY], ...config }) });
}

async function post(
  a: ReturnType<typeof app>,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const res = await a.request(path, {
    method: 'POST',
    headers: { ...auth, ...json, ...headers },
    body: JSON.stringify(body),
  });
  return { res, body: (await res.json()) as Record<string, unknown> };
}

const errorOf = (body: Record<string, unknown>) =>
  body.error as { message: string; type: string; param: string | null; code: string };

describe('CORS (vLLM defaults: any origin, method and header; no credentials)', () => {
  const preflight = (headers: Record<string, string>) =>
    ({ method: 'OPTIONS', headers: { 'access-control-request-method': 'POST', ...headers } }) as const;

  it('answers a preflight before authentication, echoing the asked headers', async () => {
    const res = await app().request(
      '/v1/chat/completions',
      preflight({
        origin: 'https://ui.example',
        'access-control-request-headers': 'Authorization, Content-Type',
      }),
    );
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal(res.headers.get('access-control-allow-methods'), 'DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT');
    assert.equal(res.headers.get('access-control-allow-headers'), 'Authorization,Content-Type');
    assert.equal(res.headers.get('access-control-allow-credentials'), null);
  });

  it('puts the headers on every response, errors included, and exposes X-Request-Id', async () => {
    const res = await app().request('/v1/models', { headers: { origin: 'https://ui.example' } });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal(res.headers.get('access-control-expose-headers'), 'X-Request-Id');
  });

  it('with a list of origins, allows only those; with credentials, echoes the origin', async () => {
    const listed = app({
      allowedOrigins: ['https://a.example'],
      allowedMethods: ['POST'],
      allowedHeaders: ['authorization'],
    });
    let res = await listed.request('/v1/models', preflight({ origin: 'https://a.example' }));
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://a.example');
    assert.equal(res.headers.get('access-control-allow-methods'), 'POST');
    assert.equal(res.headers.get('access-control-allow-headers'), 'authorization');
    assert.match(res.headers.get('vary') ?? '', /Origin/);
    res = await listed.request('/v1/models', { headers: { ...auth, origin: 'https://evil.example' } });
    assert.equal(res.status, 200);
    assert.equal(
      res.headers.get('access-control-allow-origin'),
      null,
      'the browser keeps the body from that page',
    );
    res = await app({ allowCredentials: true }).request('/v1/models', {
      headers: { ...auth, origin: 'https://b.example' },
    });
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://b.example');
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
  });

  it('an OPTIONS that is no preflight is a 405 like any other method', async () => {
    const res = await app().request('/v1/models', { method: 'OPTIONS', headers: auth });
    assert.equal(res.status, 405);
  });
});

describe('405 for a known path with another method', () => {
  for (const [method, path, allow] of [
    ['DELETE', '/v1/models', 'GET, HEAD'],
    ['GET', '/v1/chat/completions', 'POST'],
    ['PUT', '/v1/completions', 'POST'],
    ['POST', '/v1/models/tiny', 'GET, HEAD'],
    ['GET', '/tokenize', 'POST'],
    ['POST', '/health', 'GET, HEAD'],
    ['PATCH', '/metrics', 'GET, HEAD'],
  ] as const) {
    it(`${method} ${path} → 405, Allow: ${allow}`, async () => {
      const res = await app().request(path, { method, headers: auth });
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), allow);
      const error = errorOf((await res.json()) as Record<string, unknown>);
      assert.equal(error.type, 'invalid_request_error');
      assert.equal(error.code, 'method_not_allowed');
      assert.match(
        error.message,
        new RegExp(`^Method ${method} is not allowed on ${path.replaceAll('/', '\\/')}`),
      );
    });
  }

  it('an unknown path is still a 404', async () => {
    assert.equal((await app().request('/v2/anything', { method: 'DELETE', headers: auth })).status, 404);
  });
});

describe('X-Request-Id', () => {
  it('is answered back and becomes the suffix of the completion id', async () => {
    const { res, body } = await post(
      app(),
      '/v1/chat/completions',
      { model: 'tiny', messages: [{ role: 'user', content: 'hi' }] },
      { 'x-request-id': 'trace-42' },
    );
    assert.equal(res.headers.get('x-request-id'), 'trace-42');
    assert.equal(body.id, 'chatcmpl-trace-42');
    const cmpl = await post(
      app(),
      '/v1/completions',
      { model: 'tiny', prompt: 'hi', max_tokens: 2 },
      { 'x-request-id': 'c-1' },
    );
    assert.equal(cmpl.body.id, 'cmpl-c-1');
  });

  it('is made up when absent (32 hex digits), and is the completion id’s suffix then too', async () => {
    const { res, body } = await post(app(), '/v1/chat/completions', {
      model: 'tiny',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const id = res.headers.get('x-request-id')!;
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(body.id, `chatcmpl-${id}`);
    const other = await app().request('/health');
    assert.match(other.headers.get('x-request-id')!, /^[0-9a-f]{32}$/);
  });

  it('refuses an id too long or with control characters', async () => {
    for (const bad of ['x'.repeat(257), 'a\tb']) {
      const res = await app().request('/v1/models', { headers: { ...auth, 'x-request-id': bad } });
      assert.equal(res.status, 400);
      assert.equal(errorOf((await res.json()) as Record<string, unknown>).param, 'X-Request-Id');
    }
  });
});

describe('/metrics, /version and keys', () => {
  it('/metrics and /version are open by default, as in vLLM; /metrics can require the key', async () => {
    assert.equal((await app().request('/metrics')).status, 200);
    assert.deepEqual(await (await app().request('/version')).json(), { version: '0.1.0' });
    const keyed = app({ metricsRequireKey: true });
    assert.equal((await keyed.request('/metrics')).status, 401);
    assert.equal((await keyed.request('/metrics', { headers: auth })).status, 200);
    assert.equal(
      (await app().request('/tokenize', { method: 'POST', body: '{}' })).status,
      401,
      'tokenize is keyed',
    );
  });
});

describe('/tokenize and /detokenize (vLLM)', () => {
  it('tokenizes a prompt, special-token strings as special tokens, with the pieces when asked', async () => {
    const { res, body } = await post(app(), '/tokenize', { prompt: 'hi<|im_end|>', return_token_strs: true });
    assert.equal(res.status, 200);
    assert.deepEqual(body, {
      count: 3,
      max_model_len: 1024,
      tokens: [104, 105, 258],
      token_strs: ['h', 'i', '<|im_end|>'],
    });
    assert.equal((await post(app(), '/tokenize', { model: 'tiny', prompt: 'a b' })).body.token_strs, null);
  });

  it('renders messages with the chat template as the chat endpoint does, text parts joined with "\\n"', async () => {
    const a = app();
    const parts = await post(a, '/tokenize', {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
      ],
    });
    const joined = await post(a, '/tokenize', { messages: [{ role: 'user', content: 'a\nb' }] });
    assert.deepEqual(parts.body, joined.body);
    const detok = await post(a, '/detokenize', { tokens: joined.body.tokens });
    assert.equal(detok.body.prompt, '<|im_start|>user\na\nb<|im_end|>\n<|im_start|>assistant\n<think>');
    const noThinking = await post(a, '/tokenize', {
      messages: [{ role: 'user', content: 'a' }],
      chat_template_kwargs: { enable_thinking: false },
    });
    assert.deepEqual((noThinking.body.tokens as number[]).slice(-2), [259, 260], 'an empty think block');
    const bare = await post(a, '/tokenize', {
      messages: [{ role: 'user', content: 'a' }],
      add_generation_prompt: false,
    });
    assert.equal(
      (await post(a, '/detokenize', { tokens: bare.body.tokens })).body.prompt,
      '<|im_start|>user\na<|im_end|>\n',
    );
  });

  it('continue_final_message ends the prompt inside the last message', async () => {
    const a = app();
    const { body } = await post(a, '/tokenize', {
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'The answer is' },
      ],
      add_generation_prompt: false,
      continue_final_message: true,
    });
    const text = (await post(a, '/detokenize', { tokens: body.tokens })).body.prompt as string;
    assert.ok(text.endsWith('<|im_start|>assistant\nThe answer is'), text);
  });

  it('renders the prompt a chat completion with the same template fields runs', async () => {
    const engine = new FakeEngine();
    const a = createApp({ engine, config: parseApiConfig({ apiKeys: [KEY] }) });
    const q = { role: 'user', content: 'q' };
    const bodies: Record<string, unknown>[] = [
      { messages: [q] },
      { messages: [q], chat_template_kwargs: { enable_thinking: false } },
      { messages: [q], chat_template_kwargs: { enable_thinking: true, extra: 1 } },
      { messages: [q], add_generation_prompt: false },
      {
        messages: [q, { role: 'assistant', content: '<think>\nOne, then' }],
        add_generation_prompt: false,
        continue_final_message: true,
      },
    ];
    for (const body of bodies) {
      const tokenized = await post(a, '/tokenize', body);
      assert.equal(tokenized.res.status, 200, JSON.stringify(tokenized.body));
      const chat = await post(a, '/v1/chat/completions', { model: 'tiny', ...body, max_tokens: 1 });
      assert.equal(chat.res.status, 200, JSON.stringify(chat.body));
      assert.deepEqual(tokenized.body.tokens, engine.requests.at(-1)!.prompt, JSON.stringify(body));
    }
    // The chat endpoint's refusals too.
    for (const [body, param] of [
      [
        { messages: [q], add_generation_prompt: false, continue_final_message: true },
        'continue_final_message',
      ],
      [{ messages: [q], chat_template_kwargs: { messages: [] } }, 'chat_template_kwargs.messages'],
    ] as const) {
      assert.equal(errorOf((await post(a, '/tokenize', body)).body).param, param);
      assert.equal(
        errorOf((await post(a, '/v1/chat/completions', { model: 'tiny', ...body })).body).param,
        param,
      );
    }
  });

  it('refuses bad input with 400 / 404 naming the field', async () => {
    const cases: [string, unknown, number, string | null][] = [
      ['/tokenize', {}, 400, 'prompt'],
      ['/tokenize', { prompt: 'x', model: 'nope' }, 404, 'model'],
      ['/tokenize', { prompt: 3 }, 400, 'prompt'],
      [
        '/tokenize',
        { messages: [{ role: 'user', content: 'x' }], continue_final_message: true },
        400,
        'continue_final_message',
      ],
      [
        '/tokenize',
        { messages: [{ role: 'user', content: 'x' }], chat_template: '{{ x }}' },
        400,
        'chat_template',
      ],
      [
        '/tokenize',
        { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] },
        400,
        'messages[0].content[0]',
      ],
      ['/detokenize', { tokens: [1, 99999] }, 400, 'tokens[1]'],
      ['/detokenize', { tokens: [-1] }, 400, 'tokens[0]'],
      ['/detokenize', { tokens: 'abc' }, 400, 'tokens'],
    ];
    for (const [path, body, status, param] of cases) {
      const got = await post(app(), path, body);
      assert.equal(got.res.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(got.body)}`);
      assert.equal(errorOf(got.body).param, param, JSON.stringify(got.body));
    }
  });
});

describe('chat content parts and /v1/models', () => {
  it('an image_url part is a 400 naming the part', async () => {
    const { res, body } = await post(app(), '/v1/chat/completions', {
      model: 'tiny',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is this?' },
            { type: 'image_url', image_url: { url: 'https://x/y.png' } },
          ],
        },
      ],
    });
    assert.equal(res.status, 400);
    assert.deepEqual(errorOf(body), {
      message: 'messages[0].content[1] is an image_url part: the served models take text only',
      type: 'invalid_request_error',
      param: 'messages[0].content[1]',
      code: 'unsupported_parameter',
    });
  });

  it('models carry root (the checkpoint folder) and parent (null), as vLLM’s', async () => {
    const res = await app().request('/v1/models/tiny', { headers: auth });
    const model = (await res.json()) as Record<string, unknown>;
    assert.equal(model.root, '/models/tiny');
    assert.equal(model.parent, null);
  });
});
