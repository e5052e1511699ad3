import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { zodFunction } from 'openai/helpers/zod';
import type { ParsedFunctionToolCall } from 'openai/resources/chat/completions';
import { z } from 'zod';
import { createApp } from '../../src/api/app.ts';
import { joinToolCalls } from '../../src/api/common/output.ts';
import { parseApiConfig } from '../../src/api/config.ts';
import type { ServerMessage } from '../../src/api/ws/protocol.ts';
import { StreamSession } from '../../src/api/ws/session.ts';
import { QWEN3_TEMPLATE } from '../helpers/template-checkpoint.ts';
import { answerScript, byteModelWithTemplate, FakeEngine } from './fake-engine.ts';
import { type LiveServer, startTemplateServer, type TemplateServer } from './live-server.ts';

/**
 * Tool calling through the official `openai` client against the real engine: the tiny
 * random-weight model (byte tokenizer) shipping Qwen3's chat template, so tools, calls and tool
 * results are rendered by a real family's template and `auto` picks the hermes parser. A random
 * model calls nothing by itself, but a forced call is constrained by the tools' schemas: whatever
 * it writes parses as arguments matching them, which is what these tests hold it to.
 */

type Body = Record<string, unknown>;
const ID = /^chatcmpl-tool-[0-9a-f]{32}$/;

const Weather = z.strictObject({ city: z.string().max(8), days: z.number().int().min(1).max(7) });
const weather = zodFunction({ name: 'get_weather', parameters: Weather, description: 'Weather' });
const now = {
  type: 'function' as const,
  function: { name: 'now', parameters: { type: 'object', properties: {}, additionalProperties: false } },
};
const user = [{ role: 'user' as const, content: 'Weather in Oslo?' }];
// Greedy; one line of JSON (the random model would otherwise pad with whitespace), short prompts:
// the tiny model has 1024 positions and Qwen3's tool preamble is long in bytes.
const base = {
  model: 'tiny',
  messages: user,
  max_tokens: 96,
  temperature: 0,
  thinking: { mode: 'off' },
  structured_outputs: { disable_any_whitespace: true },
};
const { structured_outputs: _, ...unconstrained } = base;
/** Thinking mode off renders Qwen3's template with enable_thinking false: /tokenize must too. */
const NO_THINKING = { enable_thinking: false };
const forced = { type: 'function' as const, function: { name: 'get_weather' } };

describe('tool calling through the openai client (real engine, tiny model with Qwen3’s template)', () => {
  let server: TemplateServer;
  let live: LiveServer;
  let client: OpenAI;
  const create = (body: Body) =>
    client.chat.completions.create(body as never) as Promise<OpenAI.ChatCompletion>;
  const tokenize = async (body: Body) => {
    const res = await fetch(`${live.url}/tokenize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', ...body }),
    });
    assert.equal(res.status, 200);
    const json = (await res.json()) as { count: number; tokens: number[] };
    return { count: json.count, text: Buffer.from(json.tokens.filter((t) => t < 256)).toString('utf8') };
  };

  before(async () => {
    server = await startTemplateServer(QWEN3_TEMPLATE);
    ({ live, client } = server);
  });
  after(async () => {
    await server?.close();
  });

  it('a named tool_choice forces that call: its arguments parse and match the schema', async () => {
    const r = await create({ ...base, tools: [weather, now], tool_choice: forced });
    const choice = r.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls?.length, 1);
    const call = choice.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.match(call.id, ID);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    Weather.parse(JSON.parse(call.function.arguments));
    assert.equal(r.usage!.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
    assert.ok(r.usage!.completion_tokens > 0);
  });

  it('chat.completions.parse with zodFunction returns the parsed arguments', async () => {
    const r = await client.chat.completions.parse({
      ...base,
      tools: [weather],
      tool_choice: forced,
    } as never);
    const call = r.choices[0]!.message.tool_calls![0]! as ParsedFunctionToolCall;
    assert.deepEqual(call.function.parsed_arguments, Weather.parse(JSON.parse(call.function.arguments)));
  });

  it('required: calls of the given tools; parallel_tool_calls false allows exactly one', async () => {
    const r = await create({
      ...base,
      tools: [weather, now],
      tool_choice: 'required',
      parallel_tool_calls: false,
    });
    const choice = r.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls?.length, 1);
    const call = choice.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.match(call.id, ID);
    const args = JSON.parse(call.function.arguments);
    if (call.function.name === 'get_weather') Weather.parse(args);
    else assert.deepEqual([call.function.name, args], ['now', {}]);
  });

  it('none: the tools are in the prompt, the answer is text', async () => {
    const r = await create({ ...unconstrained, tools: [weather], tool_choice: 'none' });
    const choice = r.choices[0]!;
    assert.equal(choice.message.tool_calls, undefined);
    assert.equal(typeof choice.message.content, 'string');
    assert.ok(['stop', 'length'].includes(choice.finish_reason));
    const prompt = await tokenize({ messages: user, tools: [weather], chat_template_kwargs: NO_THINKING });
    assert.match(
      prompt.text,
      /# Tools[\s\S]*<tools>\n\{"type": "function", "function": \{"name": "get_weather"/,
    );
    assert.equal(r.usage!.prompt_tokens, prompt.count, '/tokenize renders the prompt the chat ran');
  });

  it('a history with a call and its result is rendered by the template, and the chat goes on', async () => {
    const first = await create({ ...base, tools: [weather], tool_choice: forced });
    const call = first.choices[0]!.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    const messages = [
      ...user,
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: '{"temp": 3}' },
    ];
    const prompt = await tokenize({ messages, tools: [weather], chat_template_kwargs: NO_THINKING });
    const args = JSON.stringify(JSON.parse(call.function.arguments))
      .replace(/":/g, '": ')
      .replace(/,"/g, ', "');
    assert.ok(
      prompt.text.includes(
        `<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": ${args}}\n</tool_call>`.replace(
          '<|im_start|>',
          '',
        ),
      ),
      prompt.text,
    );
    assert.ok(prompt.text.includes('user\n<tool_response>\n{"temp": 3}\n</tool_response>'), prompt.text);
    const r = await create({
      ...unconstrained,
      messages,
      tools: [weather],
      max_tokens: 8,
      tool_choice: 'none',
    });
    assert.equal(r.usage!.prompt_tokens, prompt.count);
    assert.equal(typeof r.choices[0]!.message.content, 'string');
  });

  it('streams calls as tool_calls deltas that reassemble to the non-streamed result', async () => {
    const body = { ...base, tools: [weather, now], tool_choice: 'required', parallel_tool_calls: false };
    const whole = await create(body);
    const stream = await client.chat.completions.create({
      ...body,
      stream: true,
      stream_options: { include_usage: true },
    } as never);
    const calls: { id: string; name: string; arguments: string }[] = [];
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) {
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      if (choice.finish_reason) finish = choice.finish_reason;
      for (const d of choice.delta.tool_calls ?? []) {
        if (d.index === calls.length) {
          // The first piece of a call: its id, type and name.
          assert.match(d.id!, ID);
          assert.equal(d.type, 'function');
          calls.push({ id: d.id!, name: d.function!.name!, arguments: d.function?.arguments ?? '' });
        } else {
          assert.equal(d.index, calls.length - 1, 'pieces of one call, then the next');
          assert.equal(d.id, undefined);
          assert.equal(d.function?.name, undefined);
          calls[d.index]!.arguments += d.function?.arguments ?? '';
        }
      }
    }
    const expected = whole.choices[0]!.message.tool_calls!.map((c) => {
      const f = (c as OpenAI.ChatCompletionMessageFunctionToolCall).function;
      return [f.name, f.arguments];
    });
    assert.ok(expected.length >= 1);
    assert.deepEqual(
      calls.map((c) => [c.name, c.arguments]),
      expected,
    );
    assert.equal(finish, whole.choices[0]!.finish_reason);
    assert.deepEqual(usage, whole.usage, 'usage is the same, streamed or not');
    // The client's own stream helper reassembles the same calls.
    const helper = client.chat.completions.stream(body as never);
    const final = await helper.finalChatCompletion();
    assert.deepEqual(
      final.choices[0]!.message.tool_calls!.map((c) => {
        const f = (c as OpenAI.ChatCompletionMessageFunctionToolCall).function;
        return [f.name, f.arguments];
      }),
      expected,
    );
  });

  it('refuses malformed tools and a tool_choice naming an unknown function (400 with param)', async () => {
    const refused = async (body: Body, param: string) => {
      await assert.rejects(create({ ...base, ...body }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError, String(err));
        assert.equal((err.error as { param: string }).param, param);
        return true;
      });
    };
    await refused(
      { tools: [weather], tool_choice: { type: 'function', function: { name: 'nope' } } },
      'tool_choice.function.name',
    );
    await refused({ tools: [{ type: 'function', function: { parameters: {} } }] }, 'tools[0].function.name');
    await refused(
      { tools: [{ type: 'function', function: { name: 'f', parameters: 'x' } }] },
      'tools[0].function.parameters',
    );
    // A parameters schema XGrammar cannot compile, forced: refused before anything runs.
    await refused(
      {
        tools: [{ type: 'function', function: { name: 'f', parameters: { $ref: '#/$defs/none' } } }],
        tool_choice: 'required',
      },
      'tool_choice',
    );
    const ok = await create({ ...base, tools: [weather], tool_choice: forced, max_tokens: 4 });
    assert.equal(ok.object, 'chat.completion', 'the server still answers');
  });
});

/**
 * `tool_choice: "auto"`: the answer's text goes through the model family's parser. A random model
 * never writes a call, so here the engine is scripted to answer a given text (the HTTP layer,
 * the parsers, the accumulator and the mappers are the real ones).
 */
describe('auto tool choice: calls parsed from the answer (scripted engine)', () => {
  const engine = new FakeEngine({ models: [byteModelWithTemplate('qwen', QWEN3_TEMPLATE)] });
  const answering = (text: string) => {
    engine.script = answerScript(text);
  };
  const clientOf = (parser?: string) => {
    const app = createApp({ engine, config: parseApiConfig(parser ? { toolCallParser: parser } : {}) });
    const client = new OpenAI({
      baseURL: 'http://reverie.test/v1',
      apiKey: 'unused',
      maxRetries: 0,
      fetch: (url, init) => Promise.resolve(app.fetch(new Request(url, init))),
    });
    return { app, client };
  };
  const body = { model: 'qwen', messages: user, tools: [weather, now] };
  const calls = (message: OpenAI.ChatCompletionMessage) =>
    (message.tool_calls ?? []).map((c) => {
      const f = (c as OpenAI.ChatCompletionMessageFunctionToolCall).function;
      assert.match(c.id, ID);
      return [f.name, f.arguments];
    });
  const HERMES =
    'Let me check.<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}\n</tool_call>\n<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call>';

  it('hermes (picked from the template): content before the calls, the calls, finish_reason tool_calls', async () => {
    const { client } = clientOf();
    answering(HERMES);
    const r = await client.chat.completions.create(body as never);
    const choice = r.choices[0]!;
    assert.equal(choice.message.content, 'Let me check.');
    assert.deepEqual(calls(choice.message), [
      ['get_weather', '{"city": "Oslo", "days": 2}'],
      ['now', '{}'],
    ]);
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(engine.requests.at(-1)!.params.structured_output, undefined, 'auto constrains nothing');
    // Streamed: the same, reassembled by the client's stream helper.
    const final = await client.chat.completions.stream(body as never).finalChatCompletion();
    assert.equal(final.choices[0]!.message.content, 'Let me check.');
    assert.deepEqual(calls(final.choices[0]!.message), calls(choice.message));
    assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
  });

  it('parallel_tool_calls false keeps the first call; text without calls is content', async () => {
    const { client } = clientOf();
    answering(HERMES);
    const one = await client.chat.completions.create({ ...body, parallel_tool_calls: false } as never);
    assert.deepEqual(calls(one.choices[0]!.message), [['get_weather', '{"city": "Oslo", "days": 2}']]);
    answering('No tool needed: 7 < 9.');
    const text = await client.chat.completions.create(body as never);
    assert.equal(text.choices[0]!.message.content, 'No tool needed: 7 < 9.');
    assert.equal(text.choices[0]!.message.tool_calls, undefined);
    assert.equal(text.choices[0]!.finish_reason, 'stop');
  });

  it('--tool-call-parser llama3_json reads Llama’s JSON calls; none refuses auto', async () => {
    answering('{"name": "get_weather", "parameters": {"city": "Rome", "days": 1}}');
    const r = await clientOf('llama3_json').client.chat.completions.create(body as never);
    assert.deepEqual(calls(r.choices[0]!.message), [['get_weather', '{"city": "Rome", "days": 1}']]);
    assert.equal(r.choices[0]!.message.content, null);
    await assert.rejects(clientOf('none').client.chat.completions.create(body as never), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.equal((err.error as { param: string }).param, 'tool_choice');
      return true;
    });
  });

  it('the WebSocket carries the same tool_calls pieces and finish reason', async () => {
    const { app } = clientOf();
    answering(HERMES);
    const sent: ServerMessage[] = [];
    const session = new StreamSession(app.context, {
      send: (text) => sent.push(JSON.parse(text)),
      bufferedAmount: () => 0,
    });
    session.onMessage(JSON.stringify({ type: 'response.create', id: 'r1', request: body }));
    await session.idle();
    const pieces = sent.flatMap((m) => (m.type === 'response.output_text.delta' ? (m.tool_calls ?? []) : []));
    assert.deepEqual(
      joinToolCalls(pieces).map((c) => [c.function.name, c.function.arguments]),
      [
        ['get_weather', '{"city": "Oslo", "days": 2}'],
        ['now', '{}'],
      ],
    );
    const done = sent.find((m) => m.type === 'response.completed');
    assert.deepEqual(done && 'finish_reasons' in done && done.finish_reasons, ['tool_calls']);
  });
});
