import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DecodingParams } from '../../src/decoding/params.ts';
import { StructuredOutputCompiler } from '../../src/decoding/structured/grammar-compiler.ts';
import type { StructuredOutput } from '../../src/decoding/structured/spec.ts';
import { grammarVocabulary } from '../../src/decoding/structured/vocabulary.ts';
import { createEngine } from '../../src/engine/engine.ts';
import type { Engine, EngineEvent, StepSample } from '../../src/engine/types.ts';
import {
  BYTE_EOS_TOKEN_IDS,
  BYTE_VOCAB_SIZE,
  byteTokenizerConfigJson,
  byteTokenizerJson,
} from '../../src/model/byte-tokenizer.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';
import { promptFor, tinyCheckpoint } from '../helpers/engine-fixtures.ts';

/**
 * Structured outputs through the real engine on the tiny random-weight model: whatever the
 * weights want, every answer token is one the grammar allowed (a fresh matcher accepts the whole
 * token sequence), an answer that ends on a stop token is complete, and the thinking phase before
 * it is free.
 */

interface Choice {
  content: string;
  reasoning: string;
  tokenIds: number[];
  finish: string | null;
  thinkingSteps: number;
}

async function run(
  engine: Engine,
  id: string,
  params: DecodingParams,
): Promise<{ choices: Choice[]; error: { code: string; message: string; param: string | null } | null }> {
  const model = engine.models[0]!;
  const choices: Choice[] = [];
  const at = (i: number) => {
    choices[i] ??= { content: '', reasoning: '', tokenIds: [], finish: null, thinkingSteps: 0 };
    return choices[i]!;
  };
  let error = null;
  const events: EngineEvent[] = [];
  for await (const ev of engine.generate({
    id,
    model: model.name,
    ...promptFor(model, 'give me json', params),
    params,
  }))
    events.push(ev);
  for (const ev of events) {
    if (ev.type === 'content') {
      at(ev.choice).content += ev.text;
      at(ev.choice).tokenIds.push(...ev.tokenIds);
    } else if (ev.type === 'reasoning') at(ev.choice).reasoning += ev.text;
    else if (ev.type === 'finish') {
      at(ev.choice).finish = ev.reason;
      at(ev.choice).thinkingSteps = ev.usage.thinkingSteps;
    } else if (ev.type === 'error')
      error = { code: ev.error.code, message: ev.error.message, param: ev.error.param };
  }
  return { choices, error };
}

const SCHEMA = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' },
    kind: { enum: ['a', 'b', 'c'] },
    n: { type: 'integer', minimum: 0, maximum: 99 },
  },
  required: ['ok', 'kind', 'n'],
  additionalProperties: false,
};
const JSON_SCHEMA: StructuredOutput = { type: 'json_schema', schema: SCHEMA, anyWhitespace: false };

describe('structured outputs (engine, tiny random model)', () => {
  let engine: Engine;
  /** The same constraints compiled here, to replay each answer's tokens through a fresh matcher. */
  const replay = new StructuredOutputCompiler(() => {
    const json = JSON.parse(byteTokenizerJson());
    const tokenizer = new TextTokenizer(json, JSON.parse(byteTokenizerConfigJson()));
    return grammarVocabulary(json, tokenizer, BYTE_VOCAB_SIZE, BYTE_EOS_TOKEN_IDS);
  });

  /** Every token was allowed in turn; a choice that stopped is complete. */
  async function assertValid(spec: StructuredOutput, choice: Choice): Promise<void> {
    const [matcher] = await replay.constraints(spec, 1);
    try {
      for (const id of choice.tokenIds)
        assert.ok(matcher!.accept(id), `token ${id} of ${JSON.stringify(choice.content)}`);
      if (choice.finish === 'stop') assert.ok(matcher!.accept(BYTE_EOS_TOKEN_IDS[0]!) && matcher!.terminated);
    } finally {
      matcher!.dispose();
    }
  }

  before(async () => {
    engine = createEngine({ checkpointDirs: [await tinyCheckpoint(3)], threads: 1 });
    await engine.ready();
  });
  after(async () => {
    await engine.close();
  });

  for (const mode of ['off', 'hard', 'soft', 'fuzzy', 'latent'] as const) {
    it(`a JSON schema holds after ${mode} thinking, greedy and sampled`, async () => {
      for (const [i, sampling] of [{ temperature: 0 }, { temperature: 1, seed: 7 }].entries()) {
        const { choices, error } = await run(engine, `schema-${mode}-${i}`, {
          ...sampling,
          max_tokens: 64,
          thinking: { mode, max_tokens: 6 },
          structured_output: JSON_SCHEMA,
        });
        assert.equal(error, null);
        const [c] = choices;
        assert.equal(c!.finish, 'stop', `${mode}: ${JSON.stringify(c)}`);
        const value = JSON.parse(c!.content);
        assert.deepEqual(Object.keys(value), ['ok', 'kind', 'n']);
        assert.equal(typeof value.ok, 'boolean');
        assert.ok(['a', 'b', 'c'].includes(value.kind));
        assert.ok(Number.isInteger(value.n) && value.n >= 0 && value.n <= 99);
        await assertValid(JSON_SCHEMA, c!);
        // Thinking is not constrained: it ran its course in the mode's own way (the random model's
        // greedy thoughts may all be <think>, which has no reasoning text: count the steps).
        if (mode !== 'off') assert.equal(c!.thinkingSteps, 6, `${mode} thought`);
      }
    });
  }

  it('regex, choice and grammar constraints hold for n = 3 sampled choices', async () => {
    const cases: [StructuredOutput, (s: string) => boolean][] = [
      [{ type: 'regex', pattern: '[a-c]{2,4}-[0-9]{1,3}' }, (s) => /^[a-c]{2,4}-[0-9]{1,3}$/.test(s)],
      [
        { type: 'choice', choices: ['positive', 'negative', 'neutral'] },
        (s) => ['positive', 'negative', 'neutral'].includes(s),
      ],
      [
        { type: 'grammar', grammar: 'root ::= ("yes" | "no") " " [0-9] [0-9]?' },
        (s) => /^(yes|no) [0-9][0-9]?$/.test(s),
      ],
    ];
    for (const [i, [spec, matches]] of cases.entries()) {
      const { choices, error } = await run(engine, `kinds-${i}`, {
        temperature: 1.2,
        seed: 11 + i,
        n: 3,
        max_tokens: 32,
        thinking: { mode: 'soft', max_tokens: 4 },
        structured_output: spec,
      });
      assert.equal(error, null);
      assert.equal(choices.length, 3);
      for (const c of choices) {
        assert.equal(c.finish, 'stop', JSON.stringify(c));
        assert.ok(matches(c.content), `${spec.type}: ${JSON.stringify(c.content)}`);
        await assertValid(spec, c);
      }
    }
  });

  it('JSON mode with free whitespace: every token allowed, and an object once it stops', async () => {
    const spec: StructuredOutput = { type: 'json_object' };
    for (const seed of [1, 2, 3]) {
      const { choices } = await run(engine, `json-object-${seed}`, {
        temperature: 1,
        seed,
        max_tokens: 24,
        thinking: { mode: 'off' },
        structured_output: spec,
      });
      const [c] = choices;
      await assertValid(spec, c!);
      assert.ok(c!.content.trimStart().startsWith('{'), JSON.stringify(c!.content));
      if (c!.finish === 'stop') assert.equal(typeof JSON.parse(c!.content), 'object');
    }
    // A bias toward "}" closes the object at once: the grammar still decides what may come first.
    const { choices } = await run(engine, 'json-object-biased', {
      temperature: 0,
      max_tokens: 8,
      logit_bias: { [String('}'.charCodeAt(0))]: 100 },
      thinking: { mode: 'off' },
      structured_output: spec,
    });
    assert.deepEqual(
      { content: choices[0]!.content, finish: choices[0]!.finish },
      { content: '{}', finish: 'stop' },
    );
  });

  it("the grammar's stop ids are the request's: ignore_eos ends on completion, stop_token_ids end it", async () => {
    const spec: StructuredOutput = { type: 'regex', pattern: '[0-9]{3}' };
    const base: DecodingParams = {
      temperature: 1,
      max_tokens: 16,
      thinking: { mode: 'off' },
      structured_output: spec,
    };
    for (const seed of [1, 2]) {
      // EOS is no stop: the answer ends as the grammar completes, without a stop token.
      const ignored = await run(engine, `ignore-eos-${seed}`, { ...base, seed, ignore_eos: true });
      assert.equal(ignored.error, null);
      assert.match(ignored.choices[0]!.content, /^[0-9]{3}$/);
      assert.equal(ignored.choices[0]!.finish, 'stop');
      assert.equal(ignored.choices[0]!.tokenIds.length, 3);
      // A stop id (here "x", which the regex never allows as text) ends it where the grammar may end.
      const x = 'x'.charCodeAt(0);
      const stopped = await run(engine, `stop-id-${seed}`, {
        ...base,
        seed,
        ignore_eos: true,
        stop_token_ids: [x],
        logit_bias: { [String(x)]: 100 },
      });
      assert.equal(stopped.error, null);
      assert.match(stopped.choices[0]!.content, /^[0-9]{3}$/);
      assert.equal(stopped.choices[0]!.finish, 'stop');
    }
  });

  it('constrained rows share engine steps with unconstrained ones, which decode as they would alone', async () => {
    const free: DecodingParams = { temperature: 0, max_tokens: 12, thinking: { mode: 'off' } };
    const alone = await run(engine, 'free-alone', free);
    const steps: StepSample[] = [];
    const off = engine.onStep((s) => steps.push(s));
    const [together, constrained] = await Promise.all([
      run(engine, 'free-together', free),
      run(engine, 'constrained-together', { ...free, max_tokens: 64, structured_output: JSON_SCHEMA }),
    ]);
    off();
    assert.deepEqual(together.choices, alone.choices);
    assert.doesNotThrow(() => JSON.parse(constrained.choices[0]!.content));
    assert.ok(
      steps.some((s) => s.rows >= 2),
      'at least one step ran both rows in one batch',
    );
  });

  it('a grammar XGrammar refuses is a 400-type error naming structured_output; the engine keeps serving', async () => {
    for (const [i, spec] of [
      { type: 'regex', pattern: '(unclosed' },
      { type: 'grammar', grammar: 'root ::= ' },
      { type: 'json_schema', schema: { $ref: '#/nowhere' } },
    ].entries()) {
      const { error } = await run(engine, `bad-${i}`, {
        max_tokens: 4,
        thinking: { mode: 'off' },
        structured_output: spec as StructuredOutput,
      });
      assert.equal(error?.code, 'invalid_value', JSON.stringify(error));
      assert.equal(error?.param, 'structured_output');
      assert.match(error!.message, /^invalid (regex|grammar|json_schema): /);
    }
    const { choices, error } = await run(engine, 'after-bad', {
      temperature: 0,
      max_tokens: 8,
      thinking: { mode: 'off' },
      structured_output: { type: 'choice', choices: ['x', 'y'] },
    });
    assert.equal(error, null);
    assert.ok(['x', 'y'].includes(choices[0]!.content));
  });

  it('refuses structured output with superposition, and malformed specs, at submission', () => {
    const model = engine.models[0]!;
    const submit = (params: DecodingParams) => () =>
      engine.generate({
        id: `refused-${Math.random()}`,
        model: model.name,
        ...promptFor(model, 'x', params),
        params,
      });
    assert.throws(
      submit({ superposition: { drafts: 2 }, structured_output: JSON_SCHEMA }),
      /structured_output cannot be combined with superposition/,
    );
    assert.throws(
      submit({ structured_output: { type: 'choice', choices: [] } }),
      /choices must be a non-empty list/,
    );
    assert.throws(
      submit({ structured_output: { type: 'regex' } as never }),
      /pattern must be a non-empty string/,
    );
  });

  it('a request cancelled while its grammar compiles ends as cancelled and frees nothing twice', async () => {
    const model = engine.models[0]!;
    // A long output: on a loaded machine the worker may finish compiling before the cancel arrives,
    // and the request must still be running then (a short one could end first: a flaky test).
    const params: DecodingParams = {
      max_tokens: 300,
      thinking: { mode: 'off' },
      structured_output: { type: 'regex', pattern: '[0-9]{3}-cancel[a-z]{250}' },
    };
    const abort = new AbortController();
    const events: EngineEvent[] = [];
    const stream = engine.generate(
      { id: 'cancel-compiling', model: model.name, ...promptFor(model, 'x', params), params },
      abort.signal,
    );
    abort.abort();
    for await (const ev of stream) events.push(ev);
    assert.equal(events.at(-1)?.type, 'error');
    assert.equal((events.at(-1) as { error: { code: string } }).error.code, 'cancelled');
    const { error } = await run(engine, 'after-cancel', params);
    assert.equal(error, null);
  });
});
