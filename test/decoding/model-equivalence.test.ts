import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DecodingParams } from '../../src/decoding/params.ts';
import {
  bytes,
  contentIds,
  finishOf,
  runAlone,
  shadowIds,
  thinkingPrompt,
  useTinyCheckpoint,
} from './model-harness.ts';

/**
 * Equivalences between decoding modes on the real tiny model (random weights, untied head so
 * that its greedy continuation is not a constant): each mode in its degenerate setting must feed
 * the model exactly what greedy decoding feeds it.
 */

const PROMPTS = ['Hello there', 'Q: 2+2?', 'Once upon a time'];

/** Hard greedy thinking, then a greedy answer. */
const greedyThinking = (maxThink: number): DecodingParams => ({
  temperature: 0,
  // max_tokens counts the thinking too: the budget, the end marker, then 12 answer tokens.
  max_tokens: maxThink + 13,
  thinking: { mode: 'hard', temperature: 0, max_tokens: maxThink, trace: true },
});

describe('decoding modes on the tiny model', () => {
  const t = useTinyCheckpoint();

  it('soft thinking with top_k = 1 equals hard greedy thinking, token for token', async () => {
    for (const text of PROMPTS) {
      const prompt = thinkingPrompt(text);
      const hard = await runAlone(t, { params: greedyThinking(24), prompt, startsInThinking: true });
      const soft = await runAlone(t, {
        params: {
          temperature: 0,
          max_tokens: 37,
          thinking: { mode: 'soft', top_k: 1, max_tokens: 24, trace: true },
        },
        prompt,
        startsInThinking: true,
      });
      assert.equal(shadowIds(hard.events).length, 24, 'thinking ran to its budget');
      assert.deepEqual(shadowIds(soft.events), shadowIds(hard.events), text);
      assert.deepEqual(contentIds(soft.events), contentIds(hard.events), text);
      // The soft inputs are one-hot bags of exactly the greedy tokens.
      assert.deepEqual(
        soft.inputs.map((b) => [Array.from(b.ids), Array.from(b.weights)]),
        hard.inputs.map((b) => [Array.from(b.ids), Array.from(b.weights)]),
      );
    }
  });

  it('the same comparison fails for untruncated soft thinking (the test can tell them apart)', async () => {
    const prompt = thinkingPrompt(PROMPTS[0]);
    const hard = await runAlone(t, { params: greedyThinking(24), prompt, startsInThinking: true });
    const soft = await runAlone(t, {
      params: { temperature: 0, max_tokens: 37, thinking: { mode: 'soft', max_tokens: 24, trace: true } },
      prompt,
      startsInThinking: true,
    });
    assert.notDeepEqual(shadowIds(soft.events), shadowIds(hard.events));
  });

  it("fuzzy thinking without noise gives greedy's shadow tokens", async () => {
    for (const text of PROMPTS) {
      const prompt = thinkingPrompt(text);
      const hard = await runAlone(t, { params: greedyThinking(24), prompt, startsInThinking: true });
      const fuzzy = await runAlone(t, {
        params: { temperature: 0, max_tokens: 37, thinking: { mode: 'fuzzy', max_tokens: 24, trace: true } },
        prompt,
        startsInThinking: true,
      });
      assert.deepEqual(shadowIds(fuzzy.events), shadowIds(hard.events), text);
      assert.deepEqual(contentIds(fuzzy.events), contentIds(hard.events), text);
      // τ = 1e-4 puts (almost) all the mass on the shadow token.
      for (const [i, bag] of fuzzy.inputs.slice(0, 24).entries()) {
        const heaviest = bag.weights.indexOf(Math.max(...bag.weights));
        assert.equal(bag.ids[heaviest], hard.inputs[i].ids[0]);
        assert.ok(bag.weights[heaviest] > 1 - 1e-5);
      }
    }
  });

  it('superposed decoding with k = 1 and α = 0 equals greedy', async () => {
    for (const text of PROMPTS) {
      const prompt = bytes(text);
      const greedy = await runAlone(t, {
        params: { temperature: 0, max_tokens: 30 },
        prompt,
        startsInThinking: false,
      });
      const sp = await runAlone(t, {
        params: { max_tokens: 30, superposition: { drafts: 1, alpha: 0 } },
        prompt,
        startsInThinking: false,
      });
      assert.equal(contentIds(greedy.events).length, 30);
      assert.deepEqual(contentIds(sp.events), contentIds(greedy.events), text);
      assert.equal(finishOf(sp.events).reason, 'length');
    }
  });

  it('superposed k = 1, α = 0 equals greedy also when EOS ranks second before greedy reaches it', async () => {
    // The tiny model never emits its own EOS in 30 steps, so we declare other tokens to be EOS:
    // (a) tokens that rank second at some step of greedy's run but never first before it: the
    // reference's rule (EOS from any of the best 2k pairs enters the finished pool) would pool
    // that shorter draft, stop the search and return it; (b) tokens greedy itself emits, where
    // both must stop at the same place.
    const prompt = bytes(PROMPTS[0]);
    const plain = await runAlone(t, {
      params: { temperature: 0, max_tokens: 30 },
      prompt,
      startsInThinking: false,
    });
    const greedyIds = contentIds(plain.events);
    const secondBest = plain.logits.map((l) => {
      const order = Array.from(l.subarray(0, t.ctx.tokenizerVocabSize).keys()).sort((a, b) => l[b] - l[a]);
      return order[1];
    });
    const rankedSecond = secondBest
      .filter((id, step) => !greedyIds.slice(0, step + 1).includes(id))
      .slice(0, 4);
    const emitted = [...new Set(greedyIds.slice(3, 20))].slice(0, 3);
    assert.ok(rankedSecond.length >= 2 && emitted.length >= 2);
    for (const eos of [...rankedSecond, ...emitted]) {
      const ctx = { ...t.ctx, eosIds: [eos] };
      const greedy = await runAlone(
        t,
        { params: { temperature: 0, max_tokens: 30 }, prompt, startsInThinking: false },
        ctx,
      );
      const sp = await runAlone(
        t,
        {
          params: { max_tokens: 30, superposition: { drafts: 1, alpha: 0 } },
          prompt,
          startsInThinking: false,
        },
        ctx,
      );
      assert.deepEqual(contentIds(sp.events), contentIds(greedy.events), `EOS = ${eos}`);
      assert.equal(finishOf(sp.events).reason, finishOf(greedy.events).reason, `EOS = ${eos}`);
    }
  });
});
