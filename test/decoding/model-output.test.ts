import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DecodeEvent, TokenLogprob } from '../../src/decoding/types.ts';
import {
  bytes,
  contentIds,
  contentText,
  EOT,
  finishOf,
  IM_END,
  runAlone,
  useTinyCheckpoint,
} from './model-harness.ts';

/** Stop strings and logprobs against the real model's logits. */

const NO_EOS = { [IM_END]: -100, [EOT]: -100 };
const isPrintable = (id: number) => id >= 33 && id <= 126;

const logprobsOf = (events: DecodeEvent[]): TokenLogprob[] =>
  events.flatMap((e) => (e.type === 'content' ? (e.logprobs ?? []) : []));

/** log-softmax in float64 over the tokenizer's ids. */
function logSoftmax(logits: Float32Array, n: number): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  return Float64Array.from({ length: n }, (_, i) => logits[i] - lse);
}

describe('answer output on the tiny model', () => {
  const t = useTinyCheckpoint();

  it('stops at stop strings spanning token boundaries and never emits them', async () => {
    for (const text of ['Hello there', 'Once upon a time']) {
      const prompt = bytes(text);
      const params = { temperature: 0, max_tokens: 60, logit_bias: NO_EOS };
      const full = await runAlone(t, { params, prompt, startsInThinking: false });
      const ids = contentIds(full.events);
      const whole = contentText(full.events);
      // Stops of 2 and 3 printable bytes (byte tokens, so every stop spans 2 or 3 tokens), taken
      // from the middle of the unstopped answer.
      const stops: string[] = [];
      for (let i = 8; i < ids.length - 3 && stops.length < 3; i++) {
        const len = 2 + (stops.length % 2);
        if (!ids.slice(i, i + len).every(isPrintable)) continue;
        stops.push(String.fromCharCode(...ids.slice(i, i + len)));
      }
      assert.ok(stops.length >= 2, `no printable run in ${JSON.stringify(whole)}`);
      for (const stop of stops) {
        const cut = whole.indexOf(stop);
        assert.ok(cut > 0);
        const run = await runAlone(t, {
          params: { ...params, stop: [stop, 'never-there'] },
          prompt,
          startsInThinking: false,
        });
        assert.equal(contentText(run.events), whole.slice(0, cut), `stop ${JSON.stringify(stop)}`);
        assert.equal(finishOf(run.events).reason, 'stop');
        // Every token up to the one completing the stop string was generated and reported.
        let tokensToStop = 1;
        while (!t.ctx.tokenizer.decode(ids.slice(0, tokensToStop)).includes(stop)) tokensToStop++;
        assert.deepEqual(contentIds(run.events), ids.slice(0, tokensToStop));
        assert.ok(!run.events.some((e) => e.type === 'content' && e.text.includes(stop)));
      }
      const never = await runAlone(t, {
        params: { ...params, stop: ['never-there'] },
        prompt,
        startsInThinking: false,
      });
      assert.equal(contentText(never.events), whole);
      assert.equal(finishOf(never.events).reason, 'length');
    }
  });

  it('logprobs are the log-softmax of the real logits (after logit_bias) at each sampled token', async () => {
    const bias = { 101: 3, 32: 2 };
    const run = await runAlone(t, {
      params: { seed: 5, temperature: 1, max_tokens: 40, logprobs: true, top_logprobs: 5, logit_bias: bias },
      prompt: bytes('Hello there'),
      startsInThinking: false,
    });
    const ids = contentIds(run.events);
    const lps = logprobsOf(run.events);
    assert.equal(lps.length, ids.length);
    const n = t.ctx.tokenizerVocabSize;
    let greedyAgree = 0;
    lps.forEach((lp, step) => {
      assert.equal(lp.id, ids[step]);
      assert.equal(lp.token, t.model.tokenizer.tokenText(ids[step]));
      const logits = run.logits[step].slice(0, n);
      for (const [id, b] of Object.entries(bias)) logits[Number(id)] += b;
      const expected = logSoftmax(logits, n);
      assert.ok(
        Math.abs(lp.logprob - expected[lp.id]) < 1e-4,
        `step ${step}: ${lp.logprob} vs ${expected[lp.id]}`,
      );
      const order = Array.from(expected.keys()).sort((a, b) => expected[b] - expected[a]);
      assert.deepEqual(
        lp.top_logprobs.map((x) => x.id),
        order.slice(0, 5),
      );
      for (const x of lp.top_logprobs) assert.ok(Math.abs(x.logprob - expected[x.id]) < 1e-4);
      // The sampled token is in the top list exactly when it is at least as likely as its last entry.
      const inTop = lp.top_logprobs.some((x) => x.id === lp.id);
      assert.equal(inTop, lp.logprob >= lp.top_logprobs[4].logprob);
      if (lp.id === order[0]) greedyAgree++;
    });
    // Sampling at T = 1 is not greedy: some tokens are not the argmax.
    assert.ok(greedyAgree < lps.length);
    // Joined token texts are the answer text.
    assert.equal(contentText(run.events), t.ctx.tokenizer.decode(ids));
  });

  it('greedy logprobs name the argmax, first in top_logprobs', async () => {
    const run = await runAlone(t, {
      params: { temperature: 0, max_tokens: 20, logprobs: true, top_logprobs: 3 },
      prompt: bytes('Q: 2+2?'),
      startsInThinking: false,
    });
    for (const lp of logprobsOf(run.events)) {
      assert.equal(lp.top_logprobs[0].id, lp.id);
      assert.equal(lp.top_logprobs[0].logprob, lp.logprob);
      assert.ok(lp.logprob <= 0);
    }
  });
});
