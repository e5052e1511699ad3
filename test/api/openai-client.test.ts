import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { modelObjectSchema } from '../../src/api/models/schema.ts';
import { type LiveServer, startLiveServer } from './live-server.ts';

/**
 * The official `openai` client against a live server: the real engine on the tiny random-weight
 * test model (its text is gibberish, so the tests check structure, determinism and agreement
 * between endpoints, not wording).
 */

type Extra = Record<string, unknown>;
interface ReasoningChoice {
  message: { content: string; reasoning_content: string | null };
  reasoning_trace?: {
    id: number;
    token: string;
    top_k: { id: number; token: string; p: number; fed: number }[];
    entropy: number;
  }[];
  finish_reason: string;
}

describe('openai client against a live server (real engine, tiny model)', () => {
  let live: LiveServer;
  let client: OpenAI;
  const user = [{ role: 'user' as const, content: 'Is node c reachable from node a?' }];
  // The random tiny model's favourite tokens are specials (`</think>`, ...): keep them in the text.
  const greedy = {
    model: 'tiny',
    messages: user,
    temperature: 0,
    max_tokens: 12,
    thinking: { mode: 'off' },
    skip_special_tokens: false,
  };

  before(async () => {
    live = await startLiveServer();
    client = new OpenAI({ baseURL: `${live.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 30_000 });
  });
  after(async () => {
    await live.close();
  });

  it('lists the model with its manifest summary', async () => {
    const models = await client.models.list();
    const model = models.data[0] as unknown as Extra;
    assert.equal(model.id, 'tiny');
    assert.deepEqual(model.thinking, { start: '<think>', end: '</think>' });
    assert.ok((model.modes as string[]).includes('soft'));
    assert.equal(model.max_model_len, 1024);
    assert.deepEqual(Object.keys(model).sort(), Object.keys(modelObjectSchema.shape).sort());
    assert.equal(model.object, 'model');
    assert.equal(model.owned_by, 'reverie');
    assert.ok(Number.isInteger(model.created));
    assert.equal(model.architecture, 'LlamaForCausalLM');
    assert.match(model.description as string, /^Tiny random-weight test model/);
    assert.equal(model.training_method, null, 'the test model records no training');
    assert.equal(model.ngram, false);
    assert.match(model.root as string, /\/tiny$/, "root: the checkpoint folder, as vLLM's model path");
    assert.equal(model.parent, null);
    assert.deepEqual(model.defaults, {
      temperature: 0,
      top_p: 1,
      max_tokens: 256,
      thinking_mode: 'hard',
      thinking_max_tokens: 512,
    });
    assert.deepEqual(await client.models.retrieve('tiny'), model);
  });

  it('plain chat completion: greedy, deterministic, with usage', async () => {
    const a = await client.chat.completions.create(greedy as never);
    const b = await client.chat.completions.create(greedy as never);
    assert.equal(a.object, 'chat.completion');
    assert.equal(a.choices.length, 1);
    const content = a.choices[0]!.message.content!;
    assert.ok(content.length > 0);
    assert.equal(b.choices[0]!.message.content, content, 'greedy decoding is deterministic');
    assert.ok(['stop', 'length'].includes(a.choices[0]!.finish_reason));
    assert.ok(a.usage!.prompt_tokens > 0);
    assert.ok(a.usage!.completion_tokens >= 1 && a.usage!.completion_tokens <= 12);
    assert.equal(a.usage!.total_tokens, a.usage!.prompt_tokens + a.usage!.completion_tokens);
  });

  it('streamed chat completion with include_usage: deltas add up to the JSON answer', async () => {
    const full = await client.chat.completions.create(greedy as never);
    const stream = await client.chat.completions.create({
      ...greedy,
      stream: true,
      stream_options: { include_usage: true },
    } as never);
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null = null;
    let chunks = 0;
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) {
      chunks++;
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        text += c.delta.content ?? '';
        finish = c.finish_reason ?? finish;
      }
    }
    assert.ok(chunks > 2, 'streamed in several chunks');
    assert.equal(text, full.choices[0]!.message.content);
    assert.equal(finish, full.choices[0]!.finish_reason);
    assert.equal(usage?.completion_tokens, full.usage!.completion_tokens);
  });

  it('n = 2 returns two choices, reproducible with a seed', async () => {
    const body = { ...greedy, temperature: 1, n: 2, seed: 1234 };
    const a = await client.chat.completions.create(body as never);
    const b = await client.chat.completions.create(body as never);
    assert.deepEqual(
      a.choices.map((c) => c.index),
      [0, 1],
    );
    assert.deepEqual(
      a.choices.map((c) => c.message.content),
      b.choices.map((c) => c.message.content),
    );
  });

  it('logprobs: one entry per token, top alternatives, bytes that spell the content', async () => {
    const r = await client.chat.completions.create({ ...greedy, logprobs: true, top_logprobs: 3 } as never);
    const choice = r.choices[0]!;
    const entries = choice.logprobs!.content!;
    assert.ok(entries.length > 0);
    for (const e of entries) {
      assert.ok(e.logprob <= 0);
      assert.equal(e.top_logprobs.length, 3);
      // Greedy: the chosen token is the most likely one.
      assert.ok(Math.abs(e.logprob - e.top_logprobs[0]!.logprob) < 1e-5);
    }
    const bytes = entries.flatMap((e) => e.bytes ?? []);
    assert.equal(Buffer.from(bytes).toString('utf8'), choice.message.content);
  });

  it('stop: the answer ends before the stop string, with finish_reason stop', async () => {
    const full = (await client.chat.completions.create({ ...greedy, max_tokens: 16 } as never)).choices[0]!
      .message.content!;
    assert.ok(full.length >= 3, `need some text to cut, got ${JSON.stringify(full)}`);
    const stop = full.slice(2, 3);
    const cut = full.slice(0, full.indexOf(stop));
    const r = await client.chat.completions.create({ ...greedy, max_tokens: 16, stop: [stop] } as never);
    assert.equal(r.choices[0]!.message.content, cut);
    assert.equal(r.choices[0]!.finish_reason, 'stop');
  });

  it('soft thinking with trace: reasoning_content, a trace step per position, reasoning tokens', async () => {
    const r = await client.chat.completions.create({
      ...greedy,
      thinking: { mode: 'soft', max_tokens: 6, top_k: 2, trace: true, trace_top_k: 3 },
    } as never);
    const choice = r.choices[0] as unknown as ReasoningChoice;
    assert.equal(typeof choice.message.reasoning_content, 'string');
    const trace = choice.reasoning_trace!;
    assert.ok(trace.length >= 1 && trace.length <= 7, `trace of ${trace.length} steps`);
    for (const step of trace) {
      assert.equal(step.top_k.length, 3);
      assert.ok(step.entropy >= 0);
      const ps = step.top_k.map((t) => t.p);
      assert.deepEqual(
        ps,
        [...ps].sort((x, y) => y - x),
        'top-k sorted by weight',
      );
      assert.ok(ps.reduce((a, b) => a + b, 0) <= 1 + 1e-6);
      assert.equal(step.id, step.top_k[0]!.id, 'the shadow token is the heaviest');
      const fed = step.top_k.map((t) => t.fed);
      assert.ok(Math.abs(fed[0]! + fed[1]! - 1) < 1e-6 && fed[2] === 0, `fed after top_k = 2: ${fed}`);
    }
    const details = r.usage!.completion_tokens_details!;
    // A repeated `<think>` (id 259) is not counted, as vLLM counts reasoning tokens.
    assert.equal(details.reasoning_tokens, trace.filter((s) => s.id !== 259).length);
  });

  it('soft thinking streamed: reasoning_content deltas come before content deltas', async () => {
    const stream = await client.chat.completions.create({
      ...greedy,
      stream: true,
      thinking: { mode: 'soft', max_tokens: 4 },
      // EOS banned: the answer runs its 12 tokens, so there is content to order.
      logit_bias: { 256: -100, 258: -100 },
    } as never);
    const order: string[] = [];
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) {
      const delta = chunk.choices[0]?.delta as { content?: string; reasoning_content?: string } | undefined;
      if (delta?.reasoning_content) order.push('reasoning');
      if (delta?.content) order.push('content');
    }
    assert.ok(order.includes('reasoning'), order.join(','));
    assert.ok(order.includes('content'), order.join(','));
    assert.ok(order.lastIndexOf('reasoning') < order.indexOf('content'), order.join(','));
  });

  it('superposed decoding with k = 3 drafts returns three choices', async () => {
    const r = await client.chat.completions.create({
      ...greedy,
      max_tokens: 5,
      superposition: { drafts: 3 },
    } as never);
    assert.deepEqual(
      r.choices.map((c) => c.index),
      [0, 1, 2],
    );
    for (const c of r.choices) assert.equal(typeof c.message.content, 'string');
    assert.ok(r.usage!.completion_tokens > 0);
  });

  it('text completions: a raw prompt, JSON and streamed agree', async () => {
    const body = {
      model: 'tiny',
      prompt: 'a>b b>c',
      max_tokens: 8,
      temperature: 0,
      skip_special_tokens: false,
    };
    const full = await client.completions.create(body);
    const stream = await client.completions.create({ ...body, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    assert.equal(full.object, 'text_completion');
    assert.equal(text, full.choices[0]!.text);
  });

  it('errors reach the client as typed exceptions naming the parameter', async () => {
    await assert.rejects(
      client.chat.completions.create({ ...greedy, temperature: -1 } as never),
      (err: unknown) => err instanceof OpenAI.BadRequestError && (err.error as Extra).param === 'temperature',
    );
    await assert.rejects(
      client.chat.completions.create({ ...greedy, model: 'nope' } as never),
      (err: unknown) => err instanceof OpenAI.NotFoundError,
    );
  });

  it('X-Request-Id: the client’s id comes back in the header and as the completion id’s suffix', async () => {
    const { data, response } = await client.chat.completions
      .create(greedy as never, { headers: { 'X-Request-Id': 'client-trace-7' } })
      .withResponse();
    assert.equal(response.headers.get('x-request-id'), 'client-trace-7');
    assert.equal(data.id, 'chatcmpl-client-trace-7');
    const made = await client.models.list().withResponse();
    assert.match(made.response.headers.get('x-request-id')!, /^[0-9a-f]{32}$/);
  });

  it('text content parts are joined with "\\n" as vLLM joins them; an image part is a 400 naming it', async () => {
    const promptTokens = async (content: unknown) =>
      (
        await client.chat.completions.create({
          ...greedy,
          max_tokens: 1,
          messages: [{ role: 'user', content }],
        } as never)
      ).usage!.prompt_tokens;
    const parts = await promptTokens([
      { type: 'text', text: 'a' },
      { type: 'text', text: 'b' },
    ]);
    assert.equal(parts, await promptTokens('a\nb'));
    assert.equal(parts, (await promptTokens('ab')) + 1);
    await assert.rejects(
      client.chat.completions.create({
        ...greedy,
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x.example/y.png' } }] },
        ],
      } as never),
      (err: unknown) =>
        err instanceof OpenAI.BadRequestError && (err.error as Extra).param === 'messages[0].content[0]',
    );
  });
});
