import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tokenLogprob } from '../../src/decoding/logprobs.ts';
import { Rng } from '../../src/decoding/rng.ts';
import { NO_EDITS, TokenSampler } from '../../src/decoding/sampler.ts';
import { Scratch } from '../../src/decoding/scratch.ts';
import { byteTokenizer, logitsWith, TOKENIZER_VOCAB } from './helpers.ts';

function sampler(
  config: Partial<{ temperature: number; topK: number; topP: number; minP: number }>,
  seed = 1,
) {
  return new TokenSampler({
    config: { temperature: 1, topK: 0, topP: 1, minP: 0, ...config },
    edits: NO_EDITS,
    tokenizerVocabSize: TOKENIZER_VOCAB,
    rng: new Rng(seed),
  });
}

describe('TokenSampler', () => {
  it('greedy takes the argmax within the tokenizer vocabulary', () => {
    const s = sampler({ temperature: 0 });
    assert.ok(s.isGreedy);
    assert.equal(s.sample(logitsWith({ 65: 3, 66: 2 })).id, 65); // padded ids have logit 50
  });

  it('never samples padded ids at any temperature', () => {
    const s = sampler({ temperature: 5 });
    for (let i = 0; i < 2000; i++) assert.ok(s.sample(logitsWith({})).id < TOKENIZER_VOCAB);
  });

  it('draws with the softmax frequencies (chi-square, seeded)', () => {
    const probs = [0.5, 0.25, 0.15, 0.1];
    const logits = logitsWith({
      10: Math.log(0.5),
      11: Math.log(0.25),
      12: Math.log(0.15),
      13: Math.log(0.1),
    });
    // Other ids sit at −5 (≈0.7% each … the fixture would skew counts): mask them with top_k 4.
    const s = sampler({ topK: 4 }, 11);
    const n = 20_000;
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) counts[s.sample(logits).id - 10]++;
    const chi2 = counts.reduce((a, c, j) => a + (c - n * probs[j]) ** 2 / (n * probs[j]), 0);
    assert.ok(chi2 < 16.27, `chi² = ${chi2} (3 dof, p = 0.001 critical value 16.27), counts ${counts}`);
  });

  it('same seed, same tokens; another seed, other tokens', () => {
    const run = (seed: number) => {
      const s = sampler({ temperature: 1 }, seed);
      return Array.from({ length: 50 }, () => s.sample(logitsWith({ 1: 0, 2: 0, 3: 0 })).id);
    };
    assert.deepEqual(run(5), run(5));
    assert.notDeepEqual(run(5), run(6));
  });

  it('applies the request edits before greedy selection and records penalties', () => {
    const s = new TokenSampler({
      config: { temperature: 0, topK: 0, topP: 1, minP: 0 },
      edits: { ...NO_EDITS, logitBias: new Map([[66, 5]]), presencePenalty: 2 },
      tokenizerVocabSize: TOKENIZER_VOCAB,
      rng: new Rng(1),
    });
    const logits = logitsWith({ 65: 3, 66: 0, 67: 2.5 });
    assert.equal(s.sample(logits).id, 66); // 0 + 5 beats 3
    assert.equal(s.sample(logits).id, 65); // 5 − 2 = 3 ties 3: lower id wins
    assert.equal(s.penalties.counts.get(66), 1);
  });
});

describe('tokenLogprob', () => {
  it('equals the log-softmax of the processed logits for the chosen token, top alternatives sorted', () => {
    const processed = Float32Array.of(1, 3, 2, 0);
    const lse = Math.log(Math.exp(1) + Math.exp(3) + Math.exp(2) + Math.exp(0));
    const lp = tokenLogprob(processed, 2, 2, byteTokenizer, new Scratch());
    assert.ok(Math.abs(lp.logprob - (2 - lse)) < 1e-6);
    assert.deepEqual(
      lp.top_logprobs.map((t) => t.id),
      [1, 2],
    );
    assert.ok(Math.abs(lp.top_logprobs[0].logprob - (3 - lse)) < 1e-6);
    assert.equal(lp.token, byteTokenizer.tokenText(2));
  });
});
