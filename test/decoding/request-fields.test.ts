import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveDecodingParams } from '../../src/decoding/resolve-params.ts';
import type { DecodeEvent } from '../../src/decoding/types.ts';
import {
  bytes,
  confident,
  contentIds,
  EOT,
  IM_END,
  logitsWith,
  makeContext,
  replay,
  runAlone,
  THINK,
  THINK_END,
  textOf,
} from './helpers.ts';

/**
 * vLLM's sampling fields on the answer: stop_token_ids, include_stop_str_in_output, min_tokens,
 * ignore_eos, skip_special_tokens. The model replays fixed logits, so each stop is certain.
 */

const finishOf = (events: DecodeEvent[]) => events.find((e) => e.type === 'finish');
const [a, b, c, x] = bytes('abcx');

describe('answer stops (vLLM request fields)', () => {
  it('stop_token_ids end the answer; the stop token is not text unless include_stop_str_in_output', () => {
    const r = replay([confident(a), confident(b), confident(x), confident(c)]);
    const plain = runAlone({ temperature: 0, max_tokens: 10, stop_token_ids: [x] }, r);
    assert.equal(textOf(plain.events, 'content'), 'ab');
    assert.deepEqual(contentIds(plain.events), [a, b], 'the stop token is reported like EOS: not as content');
    const finish = finishOf(plain.events);
    assert.ok(finish?.type === 'finish' && finish.reason === 'stop' && finish.usage.completionTokens === 3);
    const kept = runAlone(
      { temperature: 0, max_tokens: 10, stop_token_ids: [x], include_stop_str_in_output: true },
      replay([confident(a), confident(b), confident(x), confident(c)]),
    );
    assert.equal(textOf(kept.events, 'content'), 'abx');
  });

  it('include_stop_str_in_output keeps a stop string at the end, also across tokens', () => {
    const steps = [a, b, c, a, b, c].map(confident);
    assert.equal(
      textOf(runAlone({ temperature: 0, max_tokens: 10, stop: ['bc'] }, replay(steps)).events, 'content'),
      'a',
    );
    const kept = runAlone(
      { temperature: 0, max_tokens: 10, stop: ['bc'], include_stop_str_in_output: true },
      replay(steps),
    );
    assert.equal(textOf(kept.events, 'content'), 'abc');
  });

  it('min_tokens bans EOS and stop ids, and holds stop strings, until that many answer tokens', () => {
    // EOS is the model's first choice at every step; a stays the runner-up.
    const eosFirst = logitsWith({ [IM_END]: 30, [a]: 20 });
    const r = runAlone({ temperature: 0, max_tokens: 10, min_tokens: 3 }, replay([eosFirst]));
    assert.equal(textOf(r.events, 'content'), 'aaa');
    const finish = finishOf(r.events);
    assert.ok(finish?.type === 'finish' && finish.reason === 'stop' && finish.usage.completionTokens === 4);
    const stopId = runAlone(
      { temperature: 0, max_tokens: 10, min_tokens: 2, stop_token_ids: [b] },
      replay([logitsWith({ [b]: 30, [c]: 20 })]),
    );
    assert.equal(textOf(stopId.events, 'content'), 'cc');
    // The stop string 'a' completes at tokens 1 and 2 (held off), then at 3.
    const held = runAlone(
      { temperature: 0, max_tokens: 10, min_tokens: 2, stop: ['a'] },
      replay([confident(a)]),
    );
    assert.equal(textOf(held.events, 'content'), 'aa');
  });

  it('ignore_eos runs to max_tokens through EOS; stop_token_ids still stop', () => {
    const eos = replay([confident(a), confident(IM_END), confident(EOT), confident(b)]);
    const r = runAlone({ temperature: 0, max_tokens: 6, ignore_eos: true }, eos);
    const finish = finishOf(r.events);
    assert.ok(finish?.type === 'finish' && finish.reason === 'length' && finish.usage.completionTokens === 6);
    assert.deepEqual(contentIds(r.events), [a, IM_END, EOT, b, b, b]);
    const stopped = runAlone(
      { temperature: 0, max_tokens: 6, ignore_eos: true, stop_token_ids: [EOT] },
      replay([confident(a), confident(IM_END), confident(EOT), confident(b)]),
    );
    assert.equal(finishOf(stopped.events)?.type === 'finish' && contentIds(stopped.events).length, 2);
  });

  it('skip_special_tokens (default true) leaves special tokens out of the text', () => {
    const steps = [confident(a), confident(THINK_END), confident(b), confident(IM_END)];
    const skipped = runAlone({ temperature: 0, max_tokens: 5, thinking: { mode: 'off' } }, replay(steps));
    assert.equal(textOf(skipped.events, 'content'), 'ab');
    const shown = runAlone(
      { temperature: 0, max_tokens: 5, thinking: { mode: 'off' }, skip_special_tokens: false },
      replay(steps),
    );
    assert.equal(textOf(shown.events, 'content'), 'a</think>b');
  });

  it('refuses min_tokens beyond max_tokens and stop ids outside the tokenizer', () => {
    const ctx = makeContext();
    assert.throws(() => resolveDecodingParams({ max_tokens: 4, min_tokens: 5 }, ctx), /min_tokens/);
    assert.throws(() => resolveDecodingParams({ stop_token_ids: [262] }, ctx), /stop_token_ids: 262/);
  });
});

describe('thinking the model opens itself', () => {
  it('the start marker as the first token opens thinking; the mode applies from the next position', () => {
    // <think>, two thoughts (a then b, each with a close runner-up), </think>, the answer 'c', EOS.
    const r = runAlone(
      { temperature: 0, max_tokens: 8, thinking: { mode: 'soft', trace: true } },
      replay([
        confident(THINK),
        logitsWith({ [a]: 3, [b]: 2.5 }),
        logitsWith({ [b]: 3, [a]: 2.5 }),
        confident(THINK_END),
        confident(c),
        confident(IM_END),
      ]),
    );
    assert.ok(r.inputs[0]!.ids.length === 1 && r.inputs[0]!.ids[0] === THINK, 'the marker is fed one-hot');
    assert.ok(r.inputs[1]!.ids.length > 1, 'then soft thoughts (bags)');
    assert.equal(textOf(r.events, 'reasoning'), 'ab');
    assert.equal(textOf(r.events, 'content'), 'c');
    assert.ok(
      r.events.findLastIndex((e) => e.type === 'reasoning') < r.events.findIndex((e) => e.type === 'content'),
    );
    const finish = finishOf(r.events);
    // Reasoning: the two thoughts. Completion: <think>, 2 thoughts, </think>, 'c', EOS.
    assert.ok(
      finish?.type === 'finish' && finish.usage.reasoningTokens === 2 && finish.usage.completionTokens === 6,
      JSON.stringify(finish),
    );
  });

  it('whitespace may come first (it stays content); visible text closes the door', () => {
    const nl = 10;
    const r = runAlone(
      { temperature: 0, max_tokens: 5, thinking: { mode: 'hard' } },
      replay([confident(nl), confident(THINK), confident(a), confident(THINK_END), confident(IM_END)]),
    );
    assert.equal(textOf(r.events, 'content'), '\n');
    assert.equal(textOf(r.events, 'reasoning'), 'a');
    const late = runAlone(
      { temperature: 0, max_tokens: 4, thinking: { mode: 'hard' }, skip_special_tokens: false },
      replay([confident(x), confident(THINK), confident(a), confident(IM_END)]),
    );
    assert.equal(textOf(late.events, 'reasoning'), '');
    assert.equal(textOf(late.events, 'content'), 'x<think>a', 'after text, <think> is just text');
  });

  it('mode off closes a block the model opens: the end marker is fed next', () => {
    const r = runAlone(
      { temperature: 0, max_tokens: 3, thinking: { mode: 'off' } },
      // The second output is read by no one: the end marker is fed whatever it says.
      replay([confident(THINK), confident(b), confident(a), confident(IM_END)]),
    );
    assert.ok(r.inputs[1]!.ids[0] === THINK_END && r.inputs[1]!.ids.length === 1);
    assert.equal(textOf(r.events, 'reasoning'), '');
    assert.equal(textOf(r.events, 'content'), 'a');
  });

  it('a start marker repeated while thinking is a marker: fed, but no reasoning text and not counted', () => {
    const r = runAlone(
      { temperature: 0, max_tokens: 6, thinking: { mode: 'hard', trace: true } },
      {
        ...replay([confident(THINK), confident(a), confident(THINK_END), confident(IM_END)]),
        startsInThinking: true,
      },
    );
    assert.ok(r.inputs[0]!.ids[0] === THINK, 'fed like any thought');
    assert.equal(textOf(r.events, 'reasoning'), 'a', "vLLM's parsers strip a leading <think> from reasoning");
    const finish = finishOf(r.events);
    // Reasoning: 'a'. Completion: <think> (a thinking position), 'a', </think>, EOS.
    assert.ok(
      finish?.type === 'finish' && finish.usage.reasoningTokens === 1 && finish.usage.completionTokens === 4,
    );
  });

  it('EOS while thinking ends the choice (as vLLM stops on EOS inside a think block)', () => {
    const r = runAlone(
      { temperature: 0, max_tokens: 5, thinking: { mode: 'hard' } },
      { ...replay([confident(a), confident(IM_END), confident(b)]), startsInThinking: true },
    );
    const finish = finishOf(r.events);
    assert.ok(finish?.type === 'finish' && finish.reason === 'stop' && finish.usage.reasoningTokens === 1);
    assert.equal(textOf(r.events, 'content'), '');
  });
});

describe('thinking inherits the request sampling', () => {
  const ctx = makeContext();
  it('hard and latent take temperature, top_k, top_p and min_p from the request unless thinking.* says', () => {
    const p = resolveDecodingParams(
      { temperature: 0, top_p: 0.8, top_k: 7, min_p: 0.1, thinking: { mode: 'hard' } },
      ctx,
    );
    assert.deepEqual(p.thinking.sampling, { temperature: 0, topK: 7, topP: 0.8, minP: 0.1 });
    const own = resolveDecodingParams({ temperature: 0, thinking: { mode: 'hard', temperature: 0.7 } }, ctx);
    assert.equal(own.thinking.sampling.temperature, 0.7);
    const byDefault = resolveDecodingParams(
      { thinking: { mode: 'latent' } },
      {
        ...ctx,
        defaults: {
          temperature: 0.6,
          top_k: 20,
        },
      },
    );
    assert.deepEqual(byDefault.thinking.sampling, { temperature: 0.6, topK: 20, topP: 1, minP: 0 });
  });

  it("soft and fuzzy keep their mixture τ; truncation: the request's, else the checkpoint's soft default", () => {
    const soft = {
      temperature: 0.6,
      top_k: 10,
      top_p: 0.95,
      min_p: 0.001,
      cold_stop: { entropy_below: 0.01, patience: 256 },
    };
    const p = resolveDecodingParams(
      { temperature: 0, thinking: { mode: 'soft' } },
      {
        ...ctx,
        defaults: {
          top_p: 0.9,
          soft_thinking: soft,
        },
      },
    );
    assert.deepEqual(p.thinking.sampling, { temperature: 0.6, topK: 10, topP: 0.95, minP: 0.001 });
    assert.deepEqual(p.thinking.coldStop, { entropyBelow: 0.01, patience: 256 });
    const mine = resolveDecodingParams(
      { top_k: 3, thinking: { mode: 'fuzzy', cold_stop: null } },
      {
        ...ctx,
        defaults: {
          soft_thinking: soft,
        },
      },
    );
    assert.deepEqual(mine.thinking.sampling, { temperature: 1e-4, topK: 3, topP: 0.95, minP: 0.001 });
    assert.equal(mine.thinking.coldStop, null, 'null turns the default Cold Stop off');
    // reverie's own checkpoints have no soft defaults: the paper's whole-vocabulary mixture.
    const own = resolveDecodingParams({ temperature: 0, thinking: { mode: 'soft' } }, ctx);
    assert.deepEqual(own.thinking.sampling, { temperature: 0.5, topK: 0, topP: 1, minP: 0 });
    assert.equal(own.thinking.coldStop, null);
  });

  it('temperature 0 with hard thinking is greedy from the first thought to the last answer token', () => {
    const params = {
      temperature: 0,
      max_tokens: 6,
      seed: 1,
      thinking: { mode: 'hard' as const, max_tokens: 6, trace: true },
    };
    const one = runAlone(params, { startsInThinking: true });
    const two = runAlone({ ...params, seed: 99 }, { startsInThinking: true });
    assert.deepEqual(one.events, two.events, 'the seed does not matter: nothing is sampled');
    for (const e of one.events) {
      if (e.type === 'reasoning' && e.trace)
        assert.equal(e.trace.shadowId, e.trace.top[0]!.id, 'each thought is the argmax');
    }
  });
});
