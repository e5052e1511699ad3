import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { timedNgram } from '../../src/bench/decoding.ts';
import { buildNgramStore } from '../../src/decoding/ngram-build.ts';
import { bestPairs, superpositionWeights, tokenScores } from '../../src/decoding/superposed-step.ts';
import type { DecodeEvent, DraftSnapshot } from '../../src/decoding/types.ts';
import {
  bytes,
  contentIds,
  EOT,
  FakeModel,
  IM_END,
  logitsWith,
  makeContext,
  replay,
  runAlone,
  textOf,
} from './helpers.ts';

const [A, B, C, D] = bytes('abcd');

/** The fake model with EOS made impossible, so greedy and superposed both run to max_tokens. */
function withoutEos(seed: number): FakeModel {
  const model = new FakeModel(seed);
  const forward = model.forward.bind(model);
  model.forward = (input) => {
    const out = forward(input);
    out.logits[IM_END] = out.logits[EOT] = -100;
    return out;
  };
  return model;
}

const drafts = (events: DecodeEvent[]): DraftSnapshot[][] =>
  events.flatMap((e) => (e.type === 'drafts' ? [e.drafts] : []));

describe('superposed decoding', () => {
  it('with k = 1 and α = 0 equals greedy', () => {
    for (const seed of [1, 2, 3]) {
      const model = withoutEos(seed);
      const first = model.forward({ ids: Int32Array.of(B), weights: Float32Array.of(1) });
      const greedy = runAlone({ temperature: 0, max_tokens: 12 }, { model, first });
      const superposed = runAlone({ max_tokens: 12, superposition: { drafts: 1 } }, { model, first });
      assert.deepEqual(superposed.inputs, greedy.inputs);
      assert.deepEqual(contentIds(superposed.events), contentIds(greedy.events));
      assert.equal(textOf(superposed.events, 'content'), textOf(greedy.events, 'content'));
    }
  });

  it('with k = 1 stops where greedy stops at EOS', () => {
    const r = replay([
      logitsWith({ [A]: 5 }),
      logitsWith({ [B]: 5, [C]: 4 }),
      logitsWith({ [IM_END]: 5, [D]: 4 }),
    ]);
    const { events } = runAlone({ max_tokens: 10, superposition: { drafts: 1 } }, r);
    assert.equal(textOf(events, 'content'), 'ab');
    const finish = events.find((e) => e.type === 'finish');
    assert.ok(finish?.type === 'finish' && finish.reason === 'stop' && finish.usage.completionTokens === 3);
  });

  it('admits EOS to the finished pool only from the top k ranks', () => {
    // k = 1: a (0.6), then EOS (0.3) at rank 1 ≥ k: not pooled, so the draft runs on like greedy.
    // The reference's "any of the best 2k" rule would pool [EOS] and stop at step 2, once "ab"
    // (0.24) scores below it: a 2-token answer where greedy gives 3.
    const r = replay([
      logitsWith({ [A]: Math.log(0.6), [IM_END]: Math.log(0.3), [B]: Math.log(0.1) }),
      logitsWith({ [B]: Math.log(0.4), [C]: Math.log(0.35), [D]: Math.log(0.25) }),
      logitsWith({ [C]: Math.log(0.4), [D]: Math.log(0.35), [A]: Math.log(0.25) }),
    ]);
    const { events } = runAlone({ max_tokens: 3, superposition: { drafts: 1, temperature: 1 } }, r);
    assert.ok(drafts(events).every((step) => step.every((d) => !d.finished)));
    assert.deepEqual(contentIds(events, 0), [A, B, C]);
    // k = 2: EOS at rank 1 < k is pooled.
    const r2 = replay([logitsWith({ [A]: Math.log(0.6), [IM_END]: Math.log(0.3), [B]: Math.log(0.1) })]);
    const two = runAlone({ max_tokens: 1, superposition: { drafts: 2, temperature: 1, candidates: 3 } }, r2);
    assert.deepEqual(
      drafts(two.events)[0].map((d) => d.finished),
      [false, false, true],
    );
  });

  it('starts k drafts with k distinct tokens and feeds them weighted by draft probability', () => {
    // τ = 1 for readable numbers; candidates 3 → p̂ over a, b, c.
    const l = logitsWith({ [A]: 3, [B]: 2, [C]: 1, [D]: 0 });
    const r = replay([l, l]);
    const { inputs, events } = runAlone(
      { max_tokens: 2, superposition: { drafts: 3, temperature: 1, candidates: 3 } },
      r,
    );
    const z = Math.exp(3) + Math.exp(2) + Math.exp(1);
    const step1 = drafts(events)[0];
    assert.deepEqual(
      step1.map((d) => d.tokenIds),
      [[A], [B], [C]],
    );
    step1.forEach((d, i) => {
      assert.ok(Math.abs(d.score - (3 - i - Math.log(z))) < 1e-6);
    });
    assert.deepEqual(Array.from(inputs[0].ids), [A, B, C]);
    // γ = softmax(draft scores) = p̂ itself here.
    [3, 2, 1].forEach((l, i) => {
      assert.ok(Math.abs(inputs[0].weights[i] - Math.exp(l) / z) < 1e-6);
    });
    // Step 2: the best 3 of 9 pairs: aa, ab, ba (score −2·log z + 6, 5, 5; ties keep draft order).
    assert.deepEqual(
      drafts(events)[1].map((d) => d.tokenIds),
      [
        [A, A],
        [A, B],
        [B, A],
      ],
    );
    // Final: k choices, lowest perplexity first.
    assert.deepEqual(
      [0, 1, 2].map((c) => contentIds(events, c)),
      [
        [A, A],
        [A, B],
        [B, A],
      ],
    );
    assert.equal(events.filter((e) => e.type === 'finish').length, 3);
  });

  it('puts EOS pairs in the finished pool and ranks the final drafts by per-token perplexity', () => {
    // Step 1: a (0.6), EOS (0.3), b (0.1) → live [a], [b]; finished [EOS] (1 token, ppl 1/0.3).
    // Step 2: ab 0.6 · 0.9, aa 0.6 · 0.1, ... with k = 2.
    const s1 = logitsWith({ [A]: Math.log(0.6), [IM_END]: Math.log(0.3), [B]: Math.log(0.1) });
    const s2 = logitsWith({ [B]: Math.log(0.9), [A]: Math.log(0.1) });
    const r = replay([s1, s2]);
    const { events } = runAlone(
      { max_tokens: 2, superposition: { drafts: 2, temperature: 1, candidates: 3 } },
      r,
    );
    const first = drafts(events)[0];
    assert.deepEqual(
      first.map((d) => [d.tokenIds, d.finished]),
      [
        [[A], false],
        [[B], false],
        [[], true],
      ],
    );
    // Perplexities: ab = (0.6·0.9)^(−1/2) ≈ 1.36, [EOS] = 1/0.3 ≈ 3.33, aa = (0.06)^(−1/2) ≈ 4.08.
    assert.deepEqual(contentIds(events, 0), [A, B]);
    assert.deepEqual(contentIds(events, 1), []);
    const finishes = events.filter((e) => e.type === 'finish');
    assert.deepEqual(
      finishes.map((e) => e.type === 'finish' && e.reason),
      ['length', 'stop'],
    );
  });

  it('scores candidates with n-gram interpolation as in a hand-computed example', () => {
    // Corpus ids: 1 2 3 1 2 4 1 2 3. Prompt ends with 4 1 2 (bytes 4, 1, 2 are ids 4, 1, 2).
    const ngram = buildNgramStore([[1, 2, 3, 1, 2, 4, 1, 2, 3]], 261);
    const ctx = makeContext({ ngram });
    const l = logitsWith({ 3: Math.log(0.6), 4: Math.log(0.3), 7: Math.log(0.1) });
    const r = replay([l]);
    const { events } = runAlone(
      { max_tokens: 1, superposition: { drafts: 2, temperature: 1, candidates: 3, alpha: 0.5 } },
      { ...r, ctx, promptIds: [9, 4, 1, 2] },
    );
    // p̂ is renormalised over the 3 candidates: exactly 0.6, 0.3, 0.1.
    const ng3 = 0.01 * (2 / 3) + 0.04 * (2 / 3) + 0.15;
    const ng4 = 0.01 * (1 / 3) + 0.04 * (1 / 3);
    const expected = [0.5 * Math.log(0.6) + 0.5 * Math.log(ng3), 0.5 * Math.log(0.3) + 0.5 * Math.log(ng4)];
    const step = drafts(events)[0];
    assert.deepEqual(
      step.map((d) => d.tokenIds),
      [[3], [4]],
    );
    step.forEach((d, i) => {
      assert.ok(Math.abs(d.score - expected[i]) < 1e-6, `score ${d.score} ≠ ${expected[i]}`);
    });
  });

  it("reads its n-gram store through one call a benchmark can time (bench decoding's wrapper), with the same output", () => {
    const ngram = buildNgramStore([bytes('abcabdabcacbdabcd'.repeat(20))], 261);
    const params = { max_tokens: 8, superposition: { drafts: 3, alpha: 0.5 } };
    const plain = runAlone(params, { model: withoutEos(5), ctx: makeContext({ ngram }) });
    const timer = timedNgram(ngram);
    const timed = runAlone(params, { model: withoutEos(5), ctx: makeContext({ ngram: timer }) });
    assert.ok(timer.ms > 0, `timed ${timer.ms} ms`);
    assert.deepEqual(timed.events, plain.events);
  });
});

describe('superposed step functions', () => {
  it('tokenScores: −∞ without an n-gram continuation, penalty when a draft has none', () => {
    const out = new Float64Array(3);
    tokenScores([0.6, 0.3, 0.1], [0.2, 0, 0.05], 3, 0.54, 200, out);
    assert.ok(Math.abs(out[0] - (0.46 * Math.log(0.6) + 0.54 * Math.log(0.2))) < 1e-12);
    assert.equal(out[1], Number.NEGATIVE_INFINITY);
    tokenScores([0.6, 0.3, 0.1], [0, 0, 0], 3, 0.54, 200, out);
    assert.ok(Math.abs(out[1] - (0.46 * Math.log(0.3) - 200)) < 1e-12);
    tokenScores([0.6, 0.3, 0.1], null, 3, 0.54, 200, out);
    assert.ok(Math.abs(out[2] - Math.log(0.1)) < 1e-12, 'no store: plain log p̂');
  });

  it('bestPairs ranks draft score + token score and drops −∞', () => {
    const pairs = bestPairs(
      [
        { tokens: [1], score: -1 },
        { tokens: [2], score: -2 },
      ],
      [7, 8],
      [Float64Array.of(-0.5, Number.NEGATIVE_INFINITY), Float64Array.of(-0.1, -3)],
      2,
      4,
    );
    assert.deepEqual(
      pairs.map((p) => [p.draft, p.token, p.score]),
      [
        [0, 7, -1.5],
        [1, 7, -2.1],
        [1, 8, -5],
      ],
    );
  });

  it('superpositionWeights adds the weights of drafts ending in the same token', () => {
    const w = superpositionWeights([
      { tokens: [1, 5], score: Math.log(0.5) },
      { tokens: [2, 5], score: Math.log(0.3) },
      { tokens: [3, 6], score: Math.log(0.2) },
    ]);
    assert.deepEqual(w.ids, [5, 6]);
    assert.ok(Math.abs(w.weights[0] - 0.8) < 1e-12 && Math.abs(w.weights[1] - 0.2) < 1e-12);
  });
});
