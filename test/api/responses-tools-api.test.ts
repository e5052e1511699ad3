import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { zodResponsesFunction, zodTextFormat } from 'openai/helpers/zod';
import type { ParsedResponseFunctionToolCall } from 'openai/resources/responses/responses';
import { z } from 'zod';
import { createApp } from '../../src/api/app.ts';
import { parseApiConfig } from '../../src/api/config.ts';
import { responseObjectSchema } from '../../src/api/responses/schema.ts';
import { Telemetry } from '../../src/telemetry/telemetry.ts';
import { QWEN3_TEMPLATE } from '../helpers/template-checkpoint.ts';
import { answerScript, byteModelWithTemplate, FakeEngine } from './fake-engine.ts';
import { startTemplateServer, type TemplateServer } from './live-server.ts';

/**
 * Function tools and text.format in `POST /v1/responses`, through the official `openai` client:
 * against the real engine on the tiny random-weight model shipping Qwen3's chat template (forced
 * calls and JSON formats are constrained, so whatever it writes parses), and against a scripted
 * engine for what a random model never writes by itself (a call under `auto`, a failure mid-stream).
 */

type Body = Record<string, unknown>;
type Item = Record<string, unknown> & { type: string };
const CALL_ID = /^chatcmpl-tool-[0-9a-f]{32}$/;

const Weather = z.strictObject({ city: z.string().max(8), days: z.number().int().min(1).max(7) });
const weather = zodResponsesFunction({ name: 'get_weather', parameters: Weather, description: 'Weather' });
const now = {
  type: 'function' as const,
  name: 'now',
  parameters: { type: 'object', properties: {}, additionalProperties: false },
  strict: true,
};
const forced = { type: 'function' as const, name: 'get_weather' };
// Greedy, no thinking, one line of JSON (the random model would pad with whitespace): vLLM's
// structured_outputs options apply to the forced call's schema as in chat.
const base = {
  model: 'tiny',
  input: 'Weather in Oslo?',
  // Qwen3's tool preamble takes ~940 of the tiny model's 1024 positions (bytes).
  max_output_tokens: 80,
  temperature: 0,
  thinking: { mode: 'off' },
  structured_outputs: { disable_any_whitespace: true },
};
/** An output without its generated ids (two generations never share them, calls' ids neither) and the SDK's parsed copies. */
const withoutIds = (output: unknown) =>
  JSON.parse(
    JSON.stringify(output, (key, value) =>
      ['id', 'call_id', 'parsed', 'parsed_arguments'].includes(key) ? undefined : value,
    ),
  );

describe('responses: function tools and text.format through the openai client (real engine)', () => {
  let server: TemplateServer;
  let client: OpenAI;
  const create = (body: Body) => client.responses.create(body as never) as Promise<OpenAI.Responses.Response>;
  const chat = (body: Body) =>
    client.chat.completions.create(body as never) as Promise<OpenAI.ChatCompletion>;

  before(async () => {
    server = await startTemplateServer(QWEN3_TEMPLATE);
    client = server.client;
  });
  after(async () => {
    await server?.close();
  });

  it('a forced function tool: one function_call item whose arguments parse, no message', async () => {
    const r = await create({ ...base, tools: [weather, now], tool_choice: forced });
    responseObjectSchema.parse(r);
    assert.equal(r.status, 'completed');
    assert.deepEqual(
      r.output.map((i) => i.type),
      ['function_call'],
    );
    const call = r.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    assert.match(call.id!, /^fc_/);
    assert.match(call.call_id, CALL_ID);
    assert.equal(call.name, 'get_weather');
    assert.equal(call.status, 'completed');
    Weather.parse(JSON.parse(call.arguments));
    assert.equal(r.output_text, '');
    assert.deepEqual(r.tool_choice, forced, 'the request settings are echoed');
    assert.deepEqual(
      r.tools.map((t) => (t as { name: string }).name),
      ['get_weather', 'now'],
    );
    // responses.parse reads the arguments with the zod schema of the tool.
    const parsed = await client.responses.parse({ ...base, tools: [weather], tool_choice: forced } as never);
    const p = parsed.output[0] as ParsedResponseFunctionToolCall;
    assert.deepEqual(p.parsed_arguments, Weather.parse(JSON.parse(p.arguments)));
  });

  it('streamed: output_item.added, function_call_arguments.delta/.done, output_item.done; the SDK reassembles the JSON result', async () => {
    const body = { ...base, tools: [weather, now], tool_choice: 'required', parallel_tool_calls: false };
    const whole = await create(body);
    assert.equal(whole.output.length, 1);
    const stream = await client.responses.create({ ...body, stream: true } as never);
    const events: Item[] = [];
    for await (const e of stream as unknown as AsyncIterable<Item>) events.push(e);
    assert.deepEqual(
      events.map((e) => e.sequence_number),
      events.map((_, i) => i),
    );
    const types = events.map((e) => e.type).filter((t) => t !== 'response.function_call_arguments.delta');
    assert.deepEqual(types, [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const added = events[2]!.item as Item;
    assert.deepEqual([added.type, added.status, added.arguments], ['function_call', 'in_progress', '']);
    const deltas = events.filter((e) => e.type === 'response.function_call_arguments.delta');
    const done = events.find((e) => e.type === 'response.function_call_arguments.done')!;
    assert.ok(deltas.length >= 1);
    assert.equal(deltas.map((e) => e.delta).join(''), done.arguments);
    assert.ok(deltas.every((e) => e.item_id === added.id && e.output_index === 0));
    assert.equal(done.name, added.name);
    const completed = events.at(-1)!.response as OpenAI.Responses.Response;
    assert.deepEqual(withoutIds(completed.output), withoutIds(whole.output));
    assert.deepEqual(completed.usage, whole.usage);
    // The SDK's own accumulator gets the same response from the events.
    const final = await client.responses.stream(body as never).finalResponse();
    assert.deepEqual(withoutIds(final.output), withoutIds(whole.output));
  });

  it('a second turn: function_call and function_call_output sent back render as chat tool_calls and a tool message', async () => {
    const first = await create({ ...base, tools: [weather], tool_choice: forced });
    const call = first.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    const { type: _, ...chatFunction } = weather;
    const second = await create({
      ...base,
      structured_outputs: undefined,
      input: [
        { role: 'user', content: 'Weather in Oslo?' },
        call,
        { type: 'function_call_output', call_id: call.call_id, output: '{"temp": 3}' },
      ],
      tools: [weather],
      tool_choice: 'none',
      max_output_tokens: 4,
    });
    assert.equal(second.output.at(-1)!.type, 'message');
    // The same conversation in chat form renders to the same prompt.
    const same = await chat({
      model: 'tiny',
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: call.call_id, type: 'function', function: { name: call.name, arguments: call.arguments } },
          ],
        },
        { role: 'tool', tool_call_id: call.call_id, content: '{"temp": 3}' },
      ],
      tools: [{ type: 'function', function: chatFunction }],
      tool_choice: 'none',
      max_tokens: 1,
      thinking: { mode: 'off' },
    });
    assert.equal(second.usage!.input_tokens, same.usage!.prompt_tokens);
    // Without the call's result the prompt is shorter: the output went in.
    const noResult = await create({
      ...base,
      structured_outputs: undefined,
      input: [{ role: 'user', content: 'Weather in Oslo?' }, call],
      tools: [weather],
      tool_choice: 'none',
      max_output_tokens: 1,
    });
    assert.ok(noResult.usage!.input_tokens < second.usage!.input_tokens);
  });

  it('text.format json_schema: responses.parse with zodTextFormat returns the parsed object', async () => {
    const Answer = z.strictObject({ answer: z.string().max(6), sure: z.boolean() });
    const r = await client.responses.parse({
      ...base,
      text: { format: zodTextFormat(Answer, 'answer') },
    } as never);
    assert.equal(r.status, 'completed');
    assert.deepEqual(r.output_parsed, Answer.parse(JSON.parse(r.output_text)));
    assert.equal((r.text!.format as { type: string }).type, 'json_schema');
    const obj = await create({ ...base, text: { format: { type: 'json_object' } } });
    // Any JSON object: a random model may write one longer than the limit, whose start is still one.
    assert.ok(obj.output_text.startsWith('{'), obj.output_text);
    if (obj.status === 'completed') assert.equal(typeof JSON.parse(obj.output_text), 'object');
    const text = await create({
      ...base,
      structured_outputs: undefined,
      max_output_tokens: 4,
      text: { format: { type: 'text' } },
    });
    assert.equal(typeof text.output_text, 'string');
  });

  it('refuses bad tools, tool_choice and formats with a 400 naming the field; the server keeps serving', async () => {
    const refused = async (body: Body, param: string, code?: string) => {
      await assert.rejects(create({ ...base, ...body }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError, String(err));
        const e = err.error as { param: string; code: string };
        assert.equal(e.param, param, JSON.stringify(e));
        if (code) assert.equal(e.code, code);
        return true;
      });
    };
    await refused({ tools: [weather], tool_choice: { type: 'function', name: 'nope' } }, 'tool_choice.name');
    await refused({ tools: [{ type: 'function', parameters: {} }] }, 'tools[0].name');
    await refused({ tools: [{ type: 'function', name: 'f', parameters: 'x' }] }, 'tools[0].parameters');
    await refused({ tools: [weather, weather] }, 'tools[1].name');
    await refused({ tools: [{ type: 'web_search' }] }, 'tools[0]', 'unsupported_parameter');
    await refused({ tools: [{ type: 'teleport' }] }, 'tools[0].type');
    await refused({ tool_choice: 'required' }, 'tool_choice');
    await refused(
      {
        tools: [{ type: 'function', name: 'f', parameters: { $ref: '#/$defs/none' } }],
        tool_choice: 'required',
      },
      'tool_choice',
    );
    await refused(
      { tools: [weather], tool_choice: forced, text: { format: { type: 'json_object' } } },
      'text.format',
      'conflicting_parameters',
    );
    await refused(
      { text: { format: { type: 'json_schema', name: 'a', schema: { $ref: '#/x' } } } },
      'text.format',
    );
    await refused({ text: { format: { type: 'json_schema', name: 'a' } } }, 'text.format.schema');
    await refused(
      {
        text: { format: { type: 'json_object' } },
        structured_outputs: { regex: 'a+' },
      },
      'structured_outputs.regex',
      'conflicting_parameters',
    );
    await refused(
      { input: [{ type: 'function_call', call_id: 'c', name: 'f', arguments: '{' }] },
      'input[0].arguments',
    );
    await refused(
      {
        input: [
          { type: 'function_call_output', call_id: 'c', output: [{ type: 'input_image', image_url: 'x' }] },
        ],
      },
      'input[0].output[0]',
    );
    // Without tools, `auto` is `none` (vLLM): accepted.
    const ok = await create({
      ...base,
      structured_outputs: undefined,
      tool_choice: 'auto',
      max_output_tokens: 2,
    });
    assert.equal(ok.object, 'response', 'the server still answers');
  });
});

/**
 * `tool_choice: "auto"` in the Responses API: the answer's text goes through the model family's
 * parser (hermes, from Qwen3's template), as in chat. The engine is scripted (the HTTP layer,
 * parser, accumulator, mapper and telemetry are the real ones).
 */
describe('responses: auto tool choice, a failure mid-stream, telemetry (scripted engine)', () => {
  const engine = new FakeEngine({ models: [byteModelWithTemplate('qwen', QWEN3_TEMPLATE)] });
  const spans = new InMemorySpanExporter();
  const telemetry = new Telemetry(engine, {
    config: { traces: [], metrics: [], metricIntervalMs: 60_000 },
    spanExporters: [spans],
  });
  const app = createApp({ engine, telemetry, config: parseApiConfig({}) });
  const client = new OpenAI({
    baseURL: 'http://reverie.test/v1',
    apiKey: 'unused',
    maxRetries: 0,
    fetch: (url, init) => Promise.resolve(app.fetch(new Request(url, init))),
  });
  /** The engine answers `text` three bytes a piece, thinking `thought` first; `fail` ends it with an error instead. */
  /** The engine answers `text` (after `thought`; `fail`: an engine error instead of the finish). */
  const answering = (text: string, options: { thought?: string; fail?: boolean } = {}) => {
    engine.script = answerScript(text, options);
  };
  const body = { model: 'qwen', input: 'Weather in Oslo?', tools: [weather, now] };
  const HERMES =
    'Let me check.<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}\n</tool_call>\n<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call>';

  it('hermes calls become function_call items after the message, streamed or not; the span says tool_calls', async () => {
    answering(HERMES, { thought: 'Oslo is a city.' });
    spans.reset();
    const r = await client.responses.create(body as never);
    assert.deepEqual(
      r.output.map((i) => i.type),
      ['reasoning', 'message', 'function_call', 'function_call'],
    );
    assert.equal(r.output_text, 'Let me check.');
    const calls = r.output.slice(2) as OpenAI.Responses.ResponseFunctionToolCall[];
    assert.deepEqual(
      calls.map((c) => [c.name, c.arguments]),
      [
        ['get_weather', '{"city": "Oslo", "days": 2}'],
        ['now', '{}'],
      ],
    );
    for (const c of calls) assert.match(c.call_id, CALL_ID);
    assert.equal(engine.requests.at(-1)!.params.structured_output, undefined, 'auto constrains nothing');
    await telemetry.flush();
    const span = spans.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER)!;
    assert.deepEqual(span.attributes['gen_ai.response.finish_reasons'], ['tool_calls']);

    const final = await client.responses.stream(body as never).finalResponse();
    assert.deepEqual(withoutIds(final.output), withoutIds(r.output));
    // parallel_tool_calls false: the first call only.
    const one = await client.responses.create({ ...body, parallel_tool_calls: false } as never);
    assert.deepEqual(
      one.output.filter((i) => i.type === 'function_call').map((c) => c.name),
      ['get_weather'],
    );
    // Text without calls is the message, and the span says stop.
    answering('No tool needed.');
    spans.reset();
    const text = await client.responses.create(body as never);
    assert.deepEqual(
      text.output.map((i) => i.type),
      ['message'],
    );
    await telemetry.flush();
    const textSpan = spans.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER)!;
    assert.deepEqual(textSpan.attributes['gen_ai.response.finish_reasons'], ['stop']);
  });

  it('a failure after the first event ends the stream with an error event numbered like the others', async () => {
    answering('Let me', { fail: true });
    const res = await app.request('/v1/responses', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true }),
    });
    assert.equal(res.status, 200);
    const events = (await res.text())
      .split('\n\n')
      .filter(Boolean)
      .map((frame) => {
        const [event, data] = frame.split('\n');
        return { event: event!.slice('event: '.length), data: JSON.parse(data!.slice('data: '.length)) };
      });
    const last = events.at(-1)!;
    assert.equal(last.event, 'error');
    assert.deepEqual(last.data, {
      type: 'error',
      code: 'internal_error',
      message: 'the runner failed',
      param: null,
      sequence_number: events.length - 1,
    });
    assert.deepEqual(
      events.map((e) => e.data.sequence_number),
      events.map((_, i) => i),
    );
    assert.ok(events.some((e) => e.event === 'response.output_text.delta'));
  });
});
