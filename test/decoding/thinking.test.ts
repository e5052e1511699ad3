import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ThinkingParams } from '../../src/decoding/params.ts';
import type { BagInput, DecodeEvent } from '../../src/decoding/types.ts';
import {
  bytes,
  confident,
  FakeModel,
  HIDDEN,
  logitsWith,
  output,
  replay,
  runAlone,
  THINK_END,
  TOKENIZER_VOCAB,
  textOf,
} from './helpers.ts';

const isOneHot = (b: BagInput, id: number) => b.ids.length === 1 && b.ids[0] === id && b.weights[0] === 1;
const finishOf = (events: DecodeEvent[]) => events.find((e) => e.type === 'finish');

/** Near one-hot logits: entropy ≈ 0. */
/** Flat logits over many tokens: entropy ≈ 5 nats. */
const unsure = (id: number) => logitsWith({ [id]: -4.9 });

describe('thinking phase', () => {
  it('soft with top_k = 1 equals hard greedy, token for token', () => {
    const model = new FakeModel(3);
    const soft = runAlone(
      { temperature: 0, max_tokens: 51, thinking: { mode: 'soft', top_k: 1, max_tokens: 30 } },
      { model, startsInThinking: true },
    );
    const hard = runAlone(
      { temperature: 0, max_tokens: 51, thinking: { mode: 'hard', temperature: 0, max_tokens: 30 } },
      { model, startsInThinking: true },
    );
    assert.ok(soft.inputs.length > 10);
    assert.deepEqual(soft.inputs, hard.inputs);
    assert.deepEqual(soft.events, hard.events);
  });

  it('fuzzy without noise gives greedy shadow tokens', () => {
    const model = new FakeModel(4);
    const fuzzy = runAlone(
      { temperature: 0, max_tokens: 36, thinking: { mode: 'fuzzy', max_tokens: 30 } },
      { model, startsInThinking: true },
    );
    const hard = runAlone(
      { temperature: 0, max_tokens: 36, thinking: { mode: 'hard', temperature: 0, max_tokens: 30 } },
      { model, startsInThinking: true },
    );
    assert.ok(textOf(hard.events, 'reasoning').length > 5);
    assert.equal(textOf(fuzzy.events, 'reasoning'), textOf(hard.events, 'reasoning'));
  });

  it('ends when the shadow token is the end marker, feeding it one-hot', () => {
    const a = bytes('a')[0];
    const r = replay([
      confident(a),
      confident(a),
      confident(THINK_END),
      confident(bytes('X')[0]),
      confident(258),
    ]);
    const { events, inputs } = runAlone(
      { temperature: 0, thinking: { mode: 'soft' } },
      { ...r, startsInThinking: true },
    );
    assert.ok(isOneHot(inputs[2], THINK_END));
    assert.equal(textOf(events, 'reasoning'), 'aa');
    assert.equal(textOf(events, 'content'), 'X');
    const finish = finishOf(events);
    // Reasoning tokens: the two thoughts (vLLM leaves markers out); completion: thoughts, `</think>`, 'X', EOS.
    assert.ok(
      finish?.type === 'finish' && finish.usage.reasoningTokens === 2 && finish.usage.completionTokens === 5,
      JSON.stringify(finish),
    );
  });

  it('Cold Stop forces the end marker after exactly `patience` consecutive low-entropy steps', () => {
    const a = bytes('a')[0];
    const r = replay([
      confident(a),
      confident(a),
      unsure(a),
      confident(a),
      confident(a),
      confident(a),
      confident(258),
    ]);
    const { inputs, events } = runAlone(
      { temperature: 0, thinking: { mode: 'soft', cold_stop: { entropy_below: 0.01, patience: 3 } } },
      { ...r, startsInThinking: true },
    );
    // Steps 1–2 low, 3 high (resets), 4–5 low thoughts, 6 is the third low step in a row: end.
    assert.ok(inputs.slice(0, 5).every((b) => !isOneHot(b, THINK_END)));
    assert.ok(isOneHot(inputs[5], THINK_END));
    assert.equal(textOf(events, 'reasoning'), 'aaaaa');
  });

  it('at the budget forces the end marker one-hot; the answer then uses the answer parameters', () => {
    const z = bytes('Z')[0];
    const { inputs, events } = runAlone(
      {
        temperature: 0,
        // max_tokens counts the thinking: 4 thoughts, the end marker, 3 answer tokens.
        max_tokens: 8,
        logit_bias: { [z]: 100 },
        thinking: { mode: 'soft', temperature: 0.5, max_tokens: 4 },
      },
      { model: new FakeModel(5), startsInThinking: true },
    );
    assert.ok(
      inputs.slice(0, 4).every((b) => b.ids.length > 1),
      'four soft thoughts',
    );
    assert.ok(isOneHot(inputs[4], THINK_END));
    assert.ok(!textOf(events, 'reasoning').includes('Z'), 'the bias is not a thinking parameter');
    assert.equal(textOf(events, 'content'), 'ZZZ', 'the answer is greedy with the bias');
    const finish = finishOf(events);
    assert.ok(
      finish?.type === 'finish' &&
        finish.usage.reasoningTokens === 4 &&
        finish.usage.completionTokens === 4 + 1 + 3 &&
        finish.reason === 'length',
      JSON.stringify(finish),
    );
  });

  it('hard thinking samples with the thinking temperature, the answer with its own', () => {
    const model = new FakeModel(6);
    const params = (seed: number) => ({
      seed,
      temperature: 0,
      max_tokens: 21,
      thinking: { mode: 'hard' as const, temperature: 1.5, max_tokens: 12 },
    });
    const runs = [1, 2, 3].map((seed) => runAlone(params(seed), { model, startsInThinking: true }));
    const reasonings = new Set(runs.map((r) => textOf(r.events, 'reasoning')));
    assert.equal(reasonings.size, 3, 'thinking at τ 1.5 varies with the seed');
    assert.deepEqual(runAlone(params(1), { model, startsInThinking: true }).events, runs[0].events);
  });

  it('traces each step: shadow, top-k of the thinking distribution, entropy', () => {
    const a = bytes('a')[0];
    const b = bytes('b')[0];
    const r = replay([logitsWith({ [a]: 2, [b]: 1 }), confident(THINK_END), confident(258)]);
    const { events } = runAlone(
      { temperature: 0, thinking: { mode: 'soft', trace: true, trace_top_k: 2 } },
      { ...r, startsInThinking: true },
    );
    const traced = events.find((e) => e.type === 'reasoning');
    assert.ok(traced?.type === 'reasoning' && traced.trace);
    const { trace } = traced;
    assert.equal(trace.shadowId, a);
    assert.equal(trace.shadowToken, 'a');
    assert.deepEqual(
      trace.top.map((t) => t.id),
      [a, b],
    );
    const z = Math.exp(4) + Math.exp(2) + (TOKENIZER_VOCAB - 2) * Math.exp(-10);
    assert.ok(Math.abs(trace.top[0].p - Math.exp(4) / z) < 1e-6, 'p at τ = 0.5');
    assert.ok(trace.entropy > 0 && trace.entropy < Math.log(TOKENIZER_VOCAB));
  });

  describe('trace: fed weights are those of the bag the step feeds', () => {
    const [a, b, c, d] = bytes('abcd');
    /** First step's trace and fed bag, for four leading tokens a > b > c > d. */
    const firstStep = (thinking: ThinkingParams) => {
      const r = replay([logitsWith({ [a]: 3, [b]: 2.5, [c]: 2, [d]: 1.5 }), confident(THINK_END)]);
      const { events, inputs } = runAlone(
        { temperature: 0, max_tokens: 3, seed: 3, thinking: { mode: 'soft', trace: true, ...thinking } },
        { ...r, startsInThinking: true },
      );
      const traced = events.find((e) => e.type === 'reasoning');
      assert.ok(traced?.type === 'reasoning' && traced.trace);
      return { top: traced.trace.top, bag: inputs[0] };
    };
    const weightIn = (bag: BagInput, id: number) => bag.weights[Array.from(bag.ids).indexOf(id)] ?? 0;

    it('with top_k: kept tokens renormalised (sum 1), truncated ones 0', () => {
      const { top, bag } = firstStep({ top_k: 2, trace_top_k: 4 });
      assert.deepEqual(
        top.map((t) => t.id),
        [a, b, c, d],
      );
      assert.ok(Math.abs(top[0].fed + top[1].fed - 1) < 1e-6, `kept sum ${top[0].fed + top[1].fed}`);
      assert.ok(Math.abs(top[0].fed - top[0].p / (top[0].p + top[1].p)) < 1e-6);
      assert.deepEqual([top[2].fed, top[3].fed], [0, 0]);
      assert.ok(top[2].p > 0, 'p stays the untruncated distribution');
      for (const t of top) assert.equal(t.fed, weightIn(bag, t.id));
    });

    it('with Dirichlet noise: fed is the noised bag, not p', () => {
      const { top, bag } = firstStep({ top_k: 4, trace_top_k: 4, noise: { type: 'dirichlet', alpha: 1 } });
      assert.ok(Math.abs(top.reduce((s, t) => s + t.fed, 0) - 1) < 1e-6);
      assert.ok(
        top.some((t) => Math.abs(t.fed - t.p) > 1e-3),
        'noise moved the weights',
      );
      for (const t of top) assert.equal(t.fed, weightIn(bag, t.id));
    });

    it('hard thinking feeds the sampled token one-hot', () => {
      const { top } = firstStep({ mode: 'hard', temperature: 0, trace_top_k: 1 });
      assert.deepEqual(
        top.map((t) => [t.id, t.p, t.fed]),
        [[a, 1, 1]],
      );
    });
  });

  it('latent thinking feeds the last hidden state as an empty bag', () => {
    const hidden = Float32Array.from({ length: HIDDEN }, (_, i) => i - 3);
    const first = output(confident(bytes('q')[0]), hidden);
    const { inputs, events } = runAlone(
      { temperature: 0, max_tokens: 6, thinking: { mode: 'latent', max_tokens: 3 } },
      { model: new FakeModel(7), startsInThinking: true, first },
    );
    assert.equal(inputs[0].ids.length, 0);
    assert.deepEqual(inputs[0].add, hidden);
    assert.notEqual(inputs[0].add, hidden, 'a copy, not the runner view');
    assert.ok(isOneHot(inputs[3], THINK_END));
    assert.equal(textOf(events, 'reasoning')[0], 'q', 'the shadow is the argmax');
  });

  it('mode off on a prompt that opened <think> closes it at once', () => {
    const { inputs, events } = runAlone(
      { temperature: 0, max_tokens: 3, thinking: { mode: 'off' } },
      { model: new FakeModel(8), startsInThinking: true },
    );
    assert.ok(isOneHot(inputs[0], THINK_END));
    assert.equal(events.filter((e) => e.type === 'reasoning').length, 0);
    const finish = finishOf(events);
    // No thoughts; the end marker is a generated position, then the two answer tokens.
    assert.ok(
      finish?.type === 'finish' && finish.usage.reasoningTokens === 0 && finish.usage.completionTokens === 3,
      JSON.stringify(finish),
    );
  });
});

describe('max_tokens bounds the thinking too (as OpenAI counts reasoning tokens)', () => {
  const a = bytes('a')[0]!;
  const X = bytes('X')[0]!;
  const thoughts = (n: number) => Array.from({ length: n }, () => confident(a));

  it('thinking that fills max_tokens ends the choice there: reasoning, no answer, finish length', () => {
    const { events, inputs } = runAlone(
      { temperature: 0, max_tokens: 3, thinking: { mode: 'hard', max_tokens: 10 } },
      { ...replay([...thoughts(6), confident(THINK_END)]), startsInThinking: true },
    );
    assert.equal(inputs.length, 2, 'the third thought is the last generated position: nothing more is fed');
    assert.equal(textOf(events, 'reasoning'), 'aaa');
    assert.equal(textOf(events, 'content'), '');
    const finish = finishOf(events);
    assert.ok(
      finish?.type === 'finish' &&
        finish.reason === 'length' &&
        finish.usage.completionTokens === 3 &&
        finish.usage.reasoningTokens === 3,
      JSON.stringify(finish),
    );
  });

  it('a thinking budget that ends at max_tokens leaves no answer', () => {
    const { events } = runAlone(
      { temperature: 0, max_tokens: 3, thinking: { mode: 'hard', max_tokens: 2 } },
      { ...replay([...thoughts(2), confident(X)]), startsInThinking: true },
    );
    assert.equal(textOf(events, 'content'), '');
    const finish = finishOf(events);
    // 2 thoughts and the forced </think> are the 3 positions.
    assert.ok(finish?.type === 'finish' && finish.reason === 'length' && finish.usage.completionTokens === 3);
  });

  it('the answer gets what the thinking left', () => {
    const { events } = runAlone(
      { temperature: 0, max_tokens: 6, thinking: { mode: 'hard', max_tokens: 2 } },
      {
        ...replay([...thoughts(2), confident(X), confident(X), confident(X), confident(X)]),
        startsInThinking: true,
      },
    );
    assert.equal(textOf(events, 'content'), 'XXX', '6 − 2 thoughts − </think>');
    const finish = finishOf(events);
    assert.ok(finish?.type === 'finish' && finish.reason === 'length' && finish.usage.completionTokens === 6);
  });

  it('superposed: thinking that fills max_tokens ends every draft', () => {
    const { events } = runAlone(
      { max_tokens: 3, superposition: { drafts: 2 }, thinking: { mode: 'hard', max_tokens: 10 } },
      { ...replay(thoughts(5)), startsInThinking: true },
    );
    const finishes = events.filter((e) => e.type === 'finish');
    assert.deepEqual(
      finishes.map((f) => f.type === 'finish' && [f.choice, f.reason, f.usage.completionTokens]),
      [
        [0, 'length', 3],
        [1, 'length', 0],
      ],
    );
  });

  it('reasoning events count their thoughts (the running usage of continuous_usage_stats)', () => {
    const { events } = runAlone(
      { temperature: 0, max_tokens: 20, thinking: { mode: 'hard', max_tokens: 5 } },
      { ...replay([...thoughts(5), confident(X)]), startsInThinking: true },
    );
    const counted = events.reduce((n, e) => n + (e.type === 'reasoning' ? (e.tokens ?? 0) : 0), 0);
    assert.equal(counted, 5);
  });
});
