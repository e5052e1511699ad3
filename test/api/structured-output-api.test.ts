import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { THINK_START_ID } from '../../src/model/byte-tokenizer.ts';
import { type LiveServer, startLiveServer } from './live-server.ts';

/**
 * Structured outputs through the official `openai` client against the real engine on the tiny
 * random-weight model (its latent-capable checkpoint, so every thinking mode runs): its text is gibberish, but constrained by a grammar it is always valid —
 * JSON that parses into the schema, a string the regex matches, one of the choices — which is
 * what these tests hold it to, in every thinking mode, streamed or not, batched with others.
 */

type Body = Record<string, unknown>;
const Answer = z.strictObject({
  answer: z.string().max(6),
  sure: z.boolean(),
  n: z.number().int().min(0).max(9),
});
const user = [{ role: 'user' as const, content: 'Is 91 prime?' }];
const OPEN_BRACE = '{'.charCodeAt(0);
// One line of JSON (vLLM's disable_any_whitespace): a random model would pad with whitespace.
const oneLine = { structured_outputs: { disable_any_whitespace: true } };

describe('structured outputs through the openai client (real engine, tiny model)', () => {
  let live: LiveServer;
  let client: OpenAI;
  const chat = (body: Body) =>
    client.chat.completions.create({
      model: 'tiny',
      messages: user,
      ...body,
    } as never) as Promise<OpenAI.ChatCompletion>;
  const complete = (body: Body) =>
    client.completions.create({
      model: 'tiny',
      prompt: 'x',
      max_tokens: 24,
      // max_tokens counts thinking too: the random model opens <think> itself and would spend it all there.
      thinking: { mode: 'off' },
      ...body,
    } as never) as Promise<OpenAI.Completion>;

  before(async () => {
    live = await startLiveServer({ latent: true });
    client = new OpenAI({ baseURL: `${live.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
  });
  after(async () => {
    await live?.close();
  });

  for (const mode of ['off', 'hard', 'soft', 'fuzzy', 'latent'] as const) {
    it(`chat.completions.parse with zodResponseFormat returns the parsed object (thinking ${mode})`, async () => {
      const r = await client.chat.completions.parse({
        model: 'tiny',
        messages: user,
        max_tokens: 80,
        temperature: 0,
        response_format: zodResponseFormat(Answer, 'answer'),
        // `</think>` banned: the thinking phase runs its whole budget before the answer.
        logit_bias: { 260: -100 },
        thinking: { mode, max_tokens: 6, trace: true },
        ...oneLine,
      } as never);
      const choice = r.choices[0]!;
      assert.equal(choice.finish_reason, 'stop');
      assert.deepEqual(choice.message.parsed, Answer.parse(JSON.parse(choice.message.content!)));
      // Thinking is not constrained: its steps are tokens the grammar forbids where the answer
      // starts (one-line JSON must open with `{`; the model's favourite thought is `<think>`, a
      // special token no grammar ever allows); the answer after them follows the schema.
      const trace = (choice as unknown as { reasoning_trace: { id: number }[] }).reasoning_trace;
      if (mode === 'off') assert.deepEqual(trace, []);
      else {
        assert.equal(trace.length, 6);
        assert.ok(
          trace.every((s) => s.id !== OPEN_BRACE),
          JSON.stringify(trace.map((s) => s.id)),
        );
        assert.ok(trace.some((s) => s.id === THINK_START_ID));
      }
    });
  }

  it('completions: regex, choice, EBNF grammar and JSON schema, in vLLM’s spellings', async () => {
    const regex = await complete({ structured_outputs: { regex: '[0-9]{3}-[a-z]{2,4}' } });
    assert.match(regex.choices[0]!.text, /^[0-9]{3}-[a-z]{2,4}$/);
    assert.equal(regex.choices[0]!.finish_reason, 'stop');
    assert.match((await complete({ guided_regex: '(yes|no)!' })).choices[0]!.text, /^(yes|no)!$/);
    for (const body of [
      { guided_choice: ['red', 'green'] },
      { structured_outputs: { choice: ['red', 'green'] } },
    ]) {
      assert.ok(['red', 'green'].includes((await complete(body)).choices[0]!.text));
    }
    const grammar = 'root ::= "(" digit ("," digit)? ")"\ndigit ::= [0-9]';
    assert.match((await complete({ guided_grammar: grammar })).choices[0]!.text, /^\([0-9](,[0-9])?\)$/);
    const schema = z.toJSONSchema(Answer);
    const json = await complete({ guided_json: schema, max_tokens: 60, ...oneLine });
    Answer.parse(JSON.parse(json.choices[0]!.text));
    const rf = await complete({
      response_format: { type: 'json_schema', json_schema: { name: 'a', schema } },
      max_tokens: 60,
      ...oneLine,
    });
    Answer.parse(JSON.parse(rf.choices[0]!.text));
  });

  it('streams a constrained answer: the chunks join to the same JSON, which the stream helper parses', async () => {
    const body = {
      model: 'tiny',
      messages: user,
      max_tokens: 80,
      temperature: 0,
      thinking: { mode: 'off' },
      response_format: zodResponseFormat(Answer, 'answer'),
      ...oneLine,
    };
    const whole = await client.chat.completions.parse(body as never);
    const final = await client.chat.completions.stream(body as never).finalChatCompletion();
    assert.equal(final.choices[0]!.message.content, whole.choices[0]!.message.content);
    assert.deepEqual(final.choices[0]!.message.parsed, whole.choices[0]!.message.parsed);
  });

  it('constrained and free rows batch together; n samples each follow the grammar', async () => {
    const free = { max_tokens: 24, temperature: 0, thinking: { mode: 'off' } };
    const alone = await chat(free);
    const [constrained, beside] = await Promise.all([
      chat({
        max_tokens: 80,
        temperature: 1,
        seed: 3,
        n: 3,
        thinking: { mode: 'off' },
        response_format: zodResponseFormat(Answer, 'answer'),
        ...oneLine,
      }),
      chat(free),
    ]);
    assert.equal(constrained.choices.length, 3);
    for (const c of constrained.choices) {
      if (c.finish_reason === 'stop') Answer.parse(JSON.parse(c.message.content!));
      else assert.match(c.message.content!, /^\{"answer": "/, 'cut short, still a prefix of the schema');
    }
    assert.ok(constrained.choices.some((c) => c.finish_reason === 'stop'));
    assert.equal(beside.choices[0]!.message.content, alone.choices[0]!.message.content);
  });

  it('json_object and a grammar the model must follow from the start, in the chat API', async () => {
    const obj = await chat({
      max_tokens: 40,
      temperature: 0,
      thinking: { mode: 'off' },
      response_format: { type: 'json_object' },
      ...oneLine,
    });
    const content = obj.choices[0]!.message.content!;
    assert.ok(content.startsWith('{'), content);
    if (obj.choices[0]!.finish_reason === 'stop') assert.equal(typeof JSON.parse(content), 'object');
    const choice = await chat({ max_tokens: 8, thinking: { mode: 'off' }, guided_choice: ['left', 'right'] });
    assert.ok(['left', 'right'].includes(choice.choices[0]!.message.content!));
  });

  it('a grammar XGrammar refuses is a 400 naming the field, and the server goes on', async () => {
    for (const [body, param] of [
      [{ guided_regex: '([0-9]' }, 'guided_regex'],
      [{ structured_outputs: { grammar: 'root ::= nothing' } }, 'structured_outputs.grammar'],
      [
        { response_format: { type: 'json_schema', json_schema: { name: 'a', schema: { $ref: '#/x' } } } },
        'response_format',
      ],
    ] as const) {
      await assert.rejects(chat({ max_tokens: 4, ...body }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError, String(err));
        assert.equal((err.error as { param: string }).param, param);
        return true;
      });
    }
    const ok = await chat({ max_tokens: 4, thinking: { mode: 'off' }, guided_choice: ['a'] });
    assert.equal(ok.choices[0]!.message.content, 'a');
  });
});
