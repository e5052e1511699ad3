import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { IGNORED_FIELDS_HEADER } from '../../src/api/common/request.ts';
import { responseObjectSchema } from '../../src/api/responses/schema.ts';
import { writeManifest } from '../../src/model/manifest-writer.ts';
import { writeHfModel } from '../helpers/hf-models.ts';
import { type LiveServer, startLiveServer } from './live-server.ts';

/**
 * What agent frameworks and vLLM users send, through the official `openai` client against a live
 * server (real engine; a random-weight checkpoint in DeepSeek-R1-Distill's layout, whose template
 * opens `<think>`, so every request thinks): reasoning fields, max_tokens that counts the thinking,
 * unknown fields ignored, continuous usage, and the Responses API.
 */

type Extra = Record<string, unknown>;
type Reasoned = { content: string | null; reasoning?: string | null; reasoning_content?: string | null };

describe('openai client: reasoning fields, max_tokens, unknown fields, Responses (live server)', () => {
  const root = mkdtempSync(join(tmpdir(), 'reverie-agents-api-'));
  let live: LiveServer;
  let client: OpenAI;
  const user = [{ role: 'user' as const, content: 'Is node c reachable from node a?' }];
  // Seeded sampling: every request is reproducible, and the random weights think in varied tokens.
  const think = { mode: 'hard', max_tokens: 6 };
  const thinking = { model: 'r1', messages: user, temperature: 0.8, seed: 3, thinking: think };

  before(async () => {
    const dir = join(root, 'r1');
    await writeHfModel(dir, 'r1-qwen', { seed: 11 });
    await writeManifest(dir);
    // 256 positions: a request without max_tokens runs to the end of the context quickly.
    live = await startLiveServer({ checkpointDirs: [dir], engine: { maxModelLen: 256 } });
    client = new OpenAI({ baseURL: `${live.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 30_000 });
  });
  after(async () => {
    await live?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('reasoning under both names; include_reasoning false hides it, the thinking still happens', async () => {
    const body = { ...thinking, max_tokens: 12 };
    const shown = await client.chat.completions.create(body as never);
    const m = shown.choices[0]!.message as unknown as Reasoned;
    assert.ok(m.reasoning && m.reasoning.length > 0, 'it thought');
    assert.equal(m.reasoning_content, m.reasoning);
    const usage = shown.usage!;
    assert.ok(usage.completion_tokens_details!.reasoning_tokens! > 0);

    const hidden = await client.chat.completions.create({ ...body, include_reasoning: false } as never);
    const h = hidden.choices[0]!.message as unknown as Reasoned;
    assert.equal(h.reasoning, null);
    assert.equal(h.reasoning_content, null);
    assert.equal(h.content, m.content, 'the same generation (greedy)');
    assert.deepEqual(hidden.usage, shown.usage, 'reasoning tokens still counted');

    const stream = await client.chat.completions.create({
      ...body,
      include_reasoning: false,
      stream: true,
    } as never);
    let content = '';
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) {
      const delta = chunk.choices[0]?.delta as Reasoned | undefined;
      assert.equal(delta?.reasoning, undefined);
      assert.equal(delta?.reasoning_content, undefined);
      content += delta?.content ?? '';
    }
    assert.equal(content, m.content);
  });

  it('streamed reasoning deltas carry both names and add up to the JSON reasoning', async () => {
    const body = { ...thinking, max_tokens: 12 };
    const json = await client.chat.completions.create(body as never);
    const stream = await client.chat.completions.create({ ...body, stream: true } as never);
    let reasoning = '';
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) {
      const delta = chunk.choices[0]?.delta as Reasoned | undefined;
      assert.equal(delta?.reasoning_content, delta?.reasoning);
      reasoning += delta?.reasoning ?? '';
    }
    assert.equal(reasoning, (json.choices[0]!.message as unknown as Reasoned).reasoning);
  });

  it('max_completion_tokens bounds reasoning and answer together', async () => {
    for (const max of [3, 7, 10]) {
      const r = await client.chat.completions.create({ ...thinking, max_completion_tokens: max } as never);
      assert.ok(r.usage!.completion_tokens <= max, `${r.usage!.completion_tokens} ≤ ${max}`);
      if (r.choices[0]!.finish_reason === 'length') assert.equal(r.usage!.completion_tokens, max);
    }
    // Thinking that fills max_tokens: reasoning only, no answer, finish length (as OpenAI).
    const cut = await client.chat.completions.create({ ...thinking, max_tokens: 3 } as never);
    assert.equal(cut.choices[0]!.finish_reason, 'length');
    assert.equal(cut.choices[0]!.message.content, '');
    assert.equal(cut.usage!.completion_tokens, 3);
  });

  it('without max_tokens the request may use what the prompt leaves (capped by the checkpoint default)', async () => {
    const r = await client.chat.completions.create({
      ...thinking,
      // EOS ignored: the generation runs to its default limit.
      ignore_eos: true,
    } as never);
    const model = (await client.models.retrieve('r1')) as unknown as {
      max_model_len: number;
      defaults: { max_tokens?: number };
    };
    const room = model.max_model_len - r.usage!.prompt_tokens;
    assert.equal(r.usage!.completion_tokens, Math.min(model.defaults.max_tokens ?? room, room));
    assert.equal(r.choices[0]!.finish_reason, 'length');
  });

  it('reasoning_effort sets the thinking budget unless thinking.max_tokens is given', async () => {
    const { thinking: _t, ...plain } = thinking;
    const r = await client.chat.completions.create({
      ...plain,
      thinking: { mode: 'hard' },
      reasoning_effort: 'low',
      max_tokens: 40,
    } as never);
    assert.ok(r.usage!.completion_tokens <= 40);
    await assert.rejects(
      client.chat.completions.create({ ...thinking, reasoning_effort: 'extreme', max_tokens: 4 } as never),
      (e: unknown) => e instanceof OpenAI.BadRequestError && (e.error as Extra).param === 'reasoning_effort',
    );
  });

  it('an assistant turn with reasoning and refusal: null is accepted and reaches the template', async () => {
    const messages = [
      ...user,
      { role: 'assistant', content: 'yes', reasoning: 'a to b to c', refusal: null },
      { role: 'user', content: 'and d?' },
    ];
    const r = await client.chat.completions.create({ ...thinking, messages, max_tokens: 4 } as never);
    assert.equal(r.object, 'chat.completion');
    const sent = await fetch(`${live.url}/tokenize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'r1',
        messages: [...user, { role: 'assistant', content: 'yes', reasoning_content: 'a to b to c' }],
      }),
    });
    assert.equal(sent.status, 200);
  });

  it('unknown top-level fields are ignored and named in X-Reverie-Ignored-Fields; known ones still checked', async () => {
    const { data, response } = await client.chat.completions
      .create({
        ...thinking,
        max_tokens: 4,
        verbosity: 'low',
        prompt_cache_key: 'session-1',
        stream: true,
        stream_options: { include_usage: true, include_obfuscation: true },
      } as never)
      .withResponse();
    assert.equal(
      response.headers.get(IGNORED_FIELDS_HEADER),
      'verbosity, prompt_cache_key, stream_options.include_obfuscation',
    );
    for await (const _ of data as unknown as AsyncIterable<unknown>);
    const plain = await client.chat.completions
      .create({ ...thinking, max_tokens: 2 } as never)
      .withResponse();
    assert.equal(
      plain.response.headers.get(IGNORED_FIELDS_HEADER),
      null,
      'no header when nothing was ignored',
    );
    await assert.rejects(
      client.chat.completions.create({ ...thinking, max_tokens: 4, verbosity: 'low', top_p: 7 } as never),
      (e: unknown) => e instanceof OpenAI.BadRequestError && (e.error as Extra).param === 'top_p',
    );
  });

  it('stream_options.continuous_usage_stats: usage on every chunk, growing to the final usage', async () => {
    const stream = await client.chat.completions.create({
      ...thinking,
      max_tokens: 10,
      stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    } as never);
    const usages: OpenAI.CompletionUsage[] = [];
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) {
      assert.ok(chunk.usage, 'every chunk has usage');
      usages.push(chunk.usage);
    }
    const counts = usages.map((u) => u.completion_tokens);
    assert.deepEqual(
      counts,
      [...counts].sort((a, b) => a - b),
      'never decreasing',
    );
    const last = usages.at(-1)!;
    assert.equal(last.completion_tokens, 10);
    assert.ok(usages.every((u) => u.prompt_tokens === last.prompt_tokens));
    assert.ok(
      usages.some((u) => u.completion_tokens > 0 && u.completion_tokens < 10),
      'usage so far',
    );
  });

  it('completions: continuous_usage_stats too', async () => {
    const stream = await client.completions.create({
      model: 'r1',
      prompt: 'Once upon a time',
      max_tokens: 6,
      temperature: 0.8,
      seed: 3,
      stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    } as never);
    const counts: number[] = [];
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.Completion>) {
      counts.push(chunk.usage!.completion_tokens);
    }
    assert.equal(counts.at(-1), 6);
    assert.ok(counts.every((n, i) => i === 0 || n >= counts[i - 1]!));
  });

  it('responses.create: a reasoning item and a message item, usage, output_text', async () => {
    const r = await client.responses.create({
      model: 'r1',
      instructions: 'Answer briefly.',
      input: 'Is node c reachable from node a?',
      max_output_tokens: 12,
      temperature: 0.8,
      reasoning: { effort: 'low' },
      seed: 3,
      thinking: think,
    } as never);
    responseObjectSchema.parse(r);
    assert.equal(r.object, 'response');
    assert.match(r.id, /^resp-/);
    assert.deepEqual(
      r.output.map((o) => o.type),
      ['reasoning', 'message'],
    );
    const reasoning = r.output[0] as OpenAI.Responses.ResponseReasoningItem;
    assert.ok(reasoning.content![0]!.text.length > 0);
    const message = r.output[1] as OpenAI.Responses.ResponseOutputMessage;
    const text = (message.content[0] as OpenAI.Responses.ResponseOutputText).text;
    assert.equal(r.output_text, text);
    assert.ok(r.usage!.output_tokens <= 12);
    assert.ok(r.usage!.output_tokens_details.reasoning_tokens > 0);
    assert.equal(r.usage!.total_tokens, r.usage!.input_tokens + r.usage!.output_tokens);
    assert.equal(r.status === 'incomplete', r.incomplete_details?.reason === 'max_output_tokens');
    assert.equal((r as unknown as Extra).store, false);

    // The same request as a chat completion: the same text.
    const chat = await client.chat.completions.create({
      model: 'r1',
      messages: [{ role: 'system', content: 'Answer briefly.' }, ...user],
      max_tokens: 12,
      temperature: 0.8,
      reasoning_effort: 'low',
      seed: 3,
      thinking: think,
    } as never);
    assert.equal(chat.choices[0]!.message.content, text);
    assert.equal((chat.choices[0]!.message as unknown as Reasoned).reasoning, reasoning.content![0]!.text);
  });

  it('responses stream: the OpenAI event sequence, accumulated by the SDK into the same response', async () => {
    const body = {
      model: 'r1',
      input: [{ role: 'user' as const, content: 'Is node c reachable from node a?' }],
      max_output_tokens: 12,
      temperature: 0.8,
      seed: 3,
      thinking: think,
    };
    const json = await client.responses.create(body as never);
    const stream = client.responses.stream(body as never);
    const types: string[] = [];
    const sequence: number[] = [];
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
    }
    const final = await stream.finalResponse();
    assert.deepEqual(
      sequence,
      types.map((_, i) => i),
    );
    assert.deepEqual(types.slice(0, 4), [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    const expected = [
      'response.reasoning_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.content_part.added',
    ];
    const closeAt = types.indexOf('response.reasoning_text.done');
    assert.deepEqual(types.slice(closeAt, closeAt + 5), expected);
    assert.ok(types.slice(4, closeAt).every((t) => t === 'response.reasoning_text.delta'));
    assert.deepEqual(types.slice(-4), [
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      json.status === 'incomplete' ? 'response.incomplete' : 'response.completed',
    ]);
    assert.equal(final.output_text, json.output_text);
    assert.deepEqual(
      final.output.map((o) => o.type),
      ['reasoning', 'message'],
    );
    assert.deepEqual(final.usage, json.usage);
  });

  it('responses: earlier output sent back as input (reasoning item, assistant message) is a conversation', async () => {
    const first = await client.responses.create({
      model: 'r1',
      input: 'Is node c reachable from node a?',
      max_output_tokens: 10,
      temperature: 0.8,
      seed: 3,
      thinking: { ...think, max_tokens: 4 },
    } as never);
    const { data, response } = await client.responses
      .create({
        model: 'r1',
        input: [
          { role: 'user', content: 'Is node c reachable from node a?' },
          ...first.output,
          { role: 'user', content: [{ type: 'input_text', text: 'And node d?' }] },
        ],
        max_output_tokens: 6,
        temperature: 0,
        store: true,
        prompt_cache_key: 'k',
        thinking: { mode: 'off' },
      } as never)
      .withResponse();
    assert.equal(data.output.at(-1)!.type, 'message');
    assert.equal(response.headers.get(IGNORED_FIELDS_HEADER), 'prompt_cache_key, store');
    assert.ok(data.usage!.input_tokens > first.usage!.input_tokens);
  });

  it('responses: auto tools on a model without a tool-call parser, and previous_response_id, are a clear 400', async () => {
    // R1-Distill's template shows no tool-call syntax: as in chat, `auto` needs --tool-call-parser.
    await assert.rejects(
      client.responses.create({
        model: 'r1',
        input: 'hi',
        tools: [{ type: 'function', name: 'f', parameters: {}, strict: false }],
      } as never),
      (e: unknown) => e instanceof OpenAI.BadRequestError && (e.error as Extra).param === 'tool_choice',
    );
    await assert.rejects(
      client.responses.create({ model: 'r1', input: 'hi', previous_response_id: 'resp_1' } as never),
      (e: unknown) =>
        e instanceof OpenAI.BadRequestError && (e.error as Extra).code === 'unsupported_parameter',
    );
  });
});
