import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { stopIds } from '../../src/decoding/discrete-answer.ts';
import type { DecodingParams } from '../../src/decoding/params.ts';
import { resolveDecodingParams } from '../../src/decoding/resolve-params.ts';
import { StructuredOutputCompiler } from '../../src/decoding/structured/grammar-compiler.ts';
import type { GrammarConstraint } from '../../src/decoding/structured/grammar-constraint.ts';
import { grammarVocabulary } from '../../src/decoding/structured/vocabulary.ts';
import type { DecodeEvent } from '../../src/decoding/types.ts';
import { byteTokenizerConfigJson, byteTokenizerJson } from '../../src/model/byte-tokenizer.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';
import {
  bytes,
  confident,
  contentIds,
  EOT,
  IM_END,
  logitsWith,
  MODEL_VOCAB,
  makeContext,
  replay,
  runAlone,
  THINK,
  THINK_END,
  textOf,
} from './helpers.ts';

/**
 * A constrained answer (a real XGrammar constraint on reverie's byte vocabulary) around the two
 * ways thinking opens and the request's stop fields. The model replays fixed logits that prefer
 * what the grammar forbids, so each outcome is the grammar's doing.
 */

const compiler = new StructuredOutputCompiler(() => {
  const json = JSON.parse(byteTokenizerJson());
  const tokenizer = new TextTokenizer(json, JSON.parse(byteTokenizerConfigJson()));
  return grammarVocabulary(json, tokenizer, MODEL_VOCAB, [IM_END, EOT], [THINK, THINK_END]);
});
const live: GrammarConstraint[] = [];
after(() => {
  for (const c of live) c.dispose();
});

/** A fresh constraint for `pattern` with the request's stop set, as the engine builds it. */
async function regex(pattern: string, params: DecodingParams): Promise<GrammarConstraint> {
  const ctx = makeContext();
  const stops = stopIds(ctx, resolveDecodingParams(params, ctx)).stops;
  const [c] = await compiler.constraints({ type: 'regex', pattern }, 1, [...stops]);
  live.push(c!);
  return c!;
}

const finishOf = (events: DecodeEvent[]) => {
  const f = events.find((e) => e.type === 'finish');
  assert.ok(f?.type === 'finish');
  return f;
};
const [a, b, x, one, two, five, seven] = bytes('abx1257');
const space = bytes(' ')[0]!;

describe('a constrained answer and thinking', () => {
  it('the model opens <think> as its first token: thinking is free, the grammar starts after </think>', async () => {
    const params = { temperature: 0, max_tokens: 8, thinking: { mode: 'hard' as const } };
    const r = runAlone(params, {
      ...replay([
        logitsWith({ [THINK]: 30, [x]: 20 }),
        confident(a),
        confident(b),
        confident(THINK_END),
        logitsWith({ [x]: 30, [five]: 20 }),
        logitsWith({ [IM_END]: 30 }),
      ]),
      constraint: await regex('[0-9]+', params),
    });
    assert.equal(r.inputs[0]!.ids[0], THINK, 'the marker got through the grammar');
    assert.equal(textOf(r.events, 'reasoning'), 'ab', 'thoughts the grammar would refuse');
    assert.equal(textOf(r.events, 'content'), '5', 'the answer is the grammar’s');
    assert.equal(finishOf(r.events).reason, 'stop');
  });

  it('whitespace the grammar allows may come first; then <think> still opens thinking', async () => {
    const params = { temperature: 0, max_tokens: 8, thinking: { mode: 'hard' as const } };
    const r = runAlone(params, {
      ...replay([
        confident(space),
        confident(THINK),
        confident(a),
        confident(THINK_END),
        logitsWith({ [b]: 30, [seven]: 20 }),
        confident(IM_END),
      ]),
      constraint: await regex(' ?[0-9]', params),
    });
    assert.equal(textOf(r.events, 'content'), ' 7', 'the lead space and the answer: one valid output');
    assert.equal(textOf(r.events, 'reasoning'), 'a');
  });

  it('after visible text the marker is blocked: the grammar holds to the end', async () => {
    const params = { temperature: 0, max_tokens: 4, thinking: { mode: 'hard' as const } };
    const r = runAlone(params, {
      ...replay([
        logitsWith({ [one]: 30, [THINK]: 20 }),
        logitsWith({ [THINK]: 30, [two]: 20 }),
        confident(IM_END),
      ]),
      constraint: await regex('[0-9]+', params),
    });
    assert.equal(textOf(r.events, 'content'), '12');
    assert.equal(textOf(r.events, 'reasoning'), '');
  });

  it("mode 'off': the grammar applies from the first token and the marker is blocked", async () => {
    const params = { temperature: 0, max_tokens: 4, thinking: { mode: 'off' as const } };
    const r = runAlone(params, {
      ...replay([logitsWith({ [THINK]: 30, [seven]: 20 }), confident(IM_END)]),
      constraint: await regex('[0-9]', params),
    });
    assert.deepEqual(contentIds(r.events), [seven]);
    assert.notEqual(r.inputs[0]!.ids[0], THINK);
    const usage = finishOf(r.events).usage;
    assert.equal(usage.completionTokens, 2, 'no marker positions: the digit and EOS');
  });

  it('a prompt ending inside <think>: the marker is no answer token, the grammar starts after </think>', async () => {
    const params = { temperature: 0, max_tokens: 4, thinking: { mode: 'hard' as const } };
    const r = runAlone(params, {
      ...replay([
        confident(a),
        confident(THINK_END),
        logitsWith({ [THINK]: 30, [x]: 25, [one]: 20 }),
        confident(IM_END),
      ]),
      startsInThinking: true,
      constraint: await regex('[0-9]', params),
    });
    assert.equal(textOf(r.events, 'reasoning'), 'a');
    assert.deepEqual(contentIds(r.events), [one], 'no second think block, no text the grammar refuses');
  });
});

describe('a constrained answer and the request stop set', () => {
  it('stop_token_ids end the output where the grammar may end, not before', async () => {
    const params = { temperature: 0, max_tokens: 6, stop_token_ids: [x] };
    const r = runAlone(params, {
      ...replay([logitsWith({ [x]: 30, [one]: 20 })]),
      constraint: await regex('[0-9]{2}', params),
    });
    assert.equal(textOf(r.events, 'content'), '11');
    assert.deepEqual(contentIds(r.events), [one, one]);
    assert.equal(finishOf(r.events).reason, 'stop');
  });

  it('ignore_eos: EOS is no stop for the grammar either; a stop id still ends it', async () => {
    const params = { temperature: 0, max_tokens: 6, ignore_eos: true, stop_token_ids: [x] };
    const r = runAlone(params, {
      ...replay([logitsWith({ [IM_END]: 30, [one]: 20, [x]: 10 })]),
      constraint: await regex('[0-9]{2}', params),
    });
    assert.deepEqual(contentIds(r.events), [one, one]);
    assert.equal(finishOf(r.events).usage.completionTokens, 3, 'two digits and the stop id x');
  });

  it('ignore_eos without stop ids: a complete output ends the answer (no stop token to spend)', async () => {
    const params = { temperature: 0, max_tokens: 6, ignore_eos: true };
    const r = runAlone(params, {
      ...replay([logitsWith({ [IM_END]: 30, [one]: 20 })]),
      constraint: await regex('[0-9]{2}', params),
    });
    assert.deepEqual(contentIds(r.events), [one, one]);
    const finish = finishOf(r.events);
    assert.equal(finish.reason, 'stop');
    assert.equal(finish.usage.completionTokens, 2);
  });

  it('min_tokens holds EOS off while the grammar can go on, and yields where it can only end', async () => {
    const eosFirst = { temperature: 0, max_tokens: 8, min_tokens: 3 };
    const held = runAlone(eosFirst, {
      ...replay([logitsWith({ [IM_END]: 30, [one]: 20 })]),
      constraint: await regex('[0-9]{1,5}', eosFirst),
    });
    assert.equal(textOf(held.events, 'content'), '111');
    const short = { temperature: 0, max_tokens: 8, min_tokens: 5 };
    const ended = runAlone(short, {
      ...replay([logitsWith({ [IM_END]: 30, [one]: 20 })]),
      constraint: await regex('[0-9]{2}', short),
    });
    assert.equal(textOf(ended.events, 'content'), '11');
    const finish = finishOf(ended.events);
    assert.equal(finish.reason, 'stop');
    assert.equal(finish.usage.completionTokens, 3, 'two digits and EOS, before min_tokens');
  });
});
