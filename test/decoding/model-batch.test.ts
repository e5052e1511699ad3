import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildNgramStore } from '../../src/decoding/ngram-build.ts';
import type { DecodeContext } from '../../src/decoding/types.ts';
import {
  bytes,
  contentIds,
  type ModelRow,
  openTinyCheckpoint,
  type RowRun,
  runAlone,
  runRows,
  type TinyCheckpoint,
  thinkingPrompt,
} from './model-harness.ts';

/**
 * A mixed batch on the real tiny model: discrete, soft, superposed and latent rows (and hard,
 * fuzzy, n > 1) share ONE `runner.step` per step, each with its own bag size and additive
 * vector; every row must produce exactly what it produces alone.
 */

const CORPUS = [
  'Once upon a time there was a small model that thought in soft tokens.',
  'Hello there, how are you? Hello there, I am fine.',
  'The answer is 42. The answer is not 41. Once upon a time the answer was 42.',
];

const ROWS: ModelRow[] = [
  {
    params: { seed: 11, temperature: 0.9, top_p: 0.95, max_tokens: 14, logprobs: true, top_logprobs: 3 },
    prompt: bytes('Hello there'),
    startsInThinking: false,
  },
  {
    params: {
      seed: 12,
      temperature: 0,
      max_tokens: 8,
      thinking: { mode: 'soft', max_tokens: 7, noise: { type: 'gaussian', scale: 0.33 }, trace: true },
    },
    prompt: thinkingPrompt('Q: why?'),
    startsInThinking: true,
  },
  {
    params: { seed: 13, max_tokens: 9, superposition: { drafts: 3 } },
    prompt: bytes('Once upon a'),
    startsInThinking: false,
  },
  {
    params: { seed: 14, temperature: 0, max_tokens: 6, thinking: { mode: 'latent', max_tokens: 5 } },
    prompt: thinkingPrompt('Reach B from A'),
    startsInThinking: true,
  },
  {
    params: {
      seed: 15,
      max_tokens: 5,
      thinking: { mode: 'fuzzy', max_tokens: 4, noise: { type: 'dirichlet' } },
      superposition: { drafts: 2 },
    },
    prompt: thinkingPrompt('The answer'),
    startsInThinking: true,
  },
  {
    params: { seed: 16, temperature: 0.7, max_tokens: 10, n: 2, thinking: { mode: 'hard', max_tokens: 3 } },
    prompt: thinkingPrompt('Hi'),
    startsInThinking: true,
    choiceIndex: 1,
  },
];

/**
 * Deep equality where numbers may differ by 1e-5 relative: ORT's matrix products round
 * differently for different batch shapes, so logits move in the last float bits. Every id, token,
 * text, length and finish reason must still be identical; a row that read another row's outputs
 * or lost its noise would differ by far more.
 */
function assertSame(actual: unknown, expected: unknown, path: string): void {
  if (typeof actual === 'number' && typeof expected === 'number') {
    const ok = actual === expected || Math.abs(actual - expected) <= 1e-5 * Math.max(1, Math.abs(expected));
    assert.ok(ok, `${path}: ${actual} vs ${expected}`);
    return;
  }
  if (ArrayBuffer.isView(expected)) {
    assert.equal(actual?.constructor, expected.constructor, path);
    assertSame(Array.from(actual as Float32Array), Array.from(expected as Float32Array), path);
    return;
  }
  if (typeof expected !== 'object' || expected === null) {
    assert.equal(actual, expected, path);
    return;
  }
  assert.ok(typeof actual === 'object' && actual !== null, path);
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), path);
  for (const [key, value] of Object.entries(expected)) {
    assertSame((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
  }
}

describe('a mixed batch on the tiny model', () => {
  let t: TinyCheckpoint;
  let ctx: DecodeContext;
  before(async () => {
    t = await openTinyCheckpoint();
    const ngram = buildNgramStore(CORPUS.map(bytes), t.ctx.tokenizerVocabSize);
    ctx = { ...t.ctx, ngram, hasNgram: true };
  });
  after(async () => {
    await t.close();
  });

  it('gives every row the events and inputs it has alone', async () => {
    const together = await runRows(t, ROWS, ctx);
    const alone: RowRun[] = [];
    for (const row of ROWS) alone.push(await runAlone(t, row, ctx));
    ROWS.forEach((_, i) => {
      assertSame(together[i].events, alone[i].events, `row ${i} events`);
      assertSame(together[i].inputs, alone[i].inputs, `row ${i} inputs`);
    });
    // The rows are genuinely different: bags of 1, many ids, k ids, and none (+ hidden state).
    const shapes = together.map(
      (r) => new Set(r.inputs.map((b) => `${b.ids.length > 1 ? 'bag' : b.ids.length}:${b.add ? 'add' : ''}`)),
    );
    assert.ok(shapes[1].has('bag:add'), 'soft thinking with noise');
    assert.ok(shapes[2].has('bag:'), 'superposed drafts');
    assert.ok(shapes[3].has('0:add'), 'latent thought');
    assert.ok(shapes[0].has('1:'), 'discrete');
    // The superposed row used its n-gram store (α = 0.54): it differs from α = 0.
    const plain = await runAlone(
      t,
      { ...ROWS[2], params: { ...ROWS[2].params, superposition: { drafts: 3, alpha: 0 } } },
      ctx,
    );
    assert.notDeepEqual(
      [0, 1, 2].map((c) => contentIds(plain.events, c)),
      [0, 1, 2].map((c) => contentIds(together[2].events, c)),
    );
  });

  it('does not depend on the order of the rows in the batch', async () => {
    const order = [3, 5, 0, 2, 4, 1];
    const forward = await runRows(t, ROWS, ctx);
    const shuffled = await runRows(
      t,
      order.map((i) => ROWS[i]),
      ctx,
    );
    for (const [j, row] of order.entries()) assertSame(shuffled[j].events, forward[row].events, `row ${row}`);
  });
});
