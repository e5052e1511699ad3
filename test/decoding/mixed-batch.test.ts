import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DecodingParams } from '../../src/decoding/params.ts';
import { resolveDecodingParams } from '../../src/decoding/resolve-params.ts';
import { createDecoder } from '../../src/decoding/sequence-decoder.ts';
import type { DecodeEvent, SequenceDecoder, StepOutput } from '../../src/decoding/types.ts';
import { bytes, FakeModel, makeContext, runAlone, THINK, textOf } from './helpers.ts';

interface Row {
  params: DecodingParams;
  startsInThinking: boolean;
  choiceIndex?: number;
}

const ROWS: Row[] = [
  {
    params: { seed: 11, temperature: 0.9, top_p: 0.95, max_tokens: 12, stop: ['zz'] },
    startsInThinking: false,
  },
  {
    params: {
      seed: 12,
      max_tokens: 6,
      thinking: { mode: 'soft', max_tokens: 5, noise: { type: 'gaussian', scale: 0.33 }, trace: true },
      superposition: { drafts: 3 },
    },
    startsInThinking: true,
  },
  {
    params: { seed: 13, temperature: 0, max_tokens: 8, thinking: { mode: 'latent', max_tokens: 4 } },
    startsInThinking: true,
  },
  {
    params: {
      seed: 14,
      temperature: 0.7,
      top_k: 20,
      max_tokens: 8,
      logprobs: true,
      top_logprobs: 3,
      presence_penalty: 0.5,
      thinking: { mode: 'hard', max_tokens: 6 },
    },
    startsInThinking: true,
  },
  {
    params: {
      seed: 15,
      temperature: 0,
      max_tokens: 8,
      thinking: { mode: 'fuzzy', max_tokens: 6, noise: { type: 'dirichlet' } },
    },
    startsInThinking: true,
  },
  { params: { seed: 16, min_p: 0.1, max_tokens: 8, repetition_penalty: 1.3 }, startsInThinking: false },
];

/** Steps every row together, interleaved, until all have finished. */
function runBatch(rows: Row[], model: FakeModel): DecodeEvent[][] {
  const ctx = makeContext();
  const decoders: SequenceDecoder[] = rows.map((r) =>
    createDecoder(resolveDecodingParams(r.params, ctx), ctx, {
      startsInThinking: r.startsInThinking,
      choiceIndex: r.choiceIndex ?? 0,
      promptIds: bytes('Q:'),
    }),
  );
  const first = model.forward({ ids: Int32Array.of(THINK), weights: Float32Array.of(1) });
  const outputs: (StepOutput | null)[] = rows.map(() => first);
  const events: DecodeEvent[][] = rows.map(() => []);
  while (outputs.some((o) => o !== null)) {
    // Decide every row's input first (as the engine does), then run the "forward".
    const inputs = decoders.map((d, i) => {
      const out = outputs[i];
      if (!out) return null;
      const r = d.next(out);
      events[i].push(...r.events);
      return r.finished ? null : r.input;
    });
    inputs.forEach((input, i) => {
      outputs[i] = input ? model.forward(input) : null;
    });
  }
  return events;
}

describe('a mixed batch', () => {
  it('gives each row the same output as running it alone', () => {
    const model = new FakeModel(21);
    const together = runBatch(ROWS, model);
    const reversed = runBatch([...ROWS].reverse(), model).reverse();
    ROWS.forEach((row, i) => {
      const alone = runAlone(row.params, { model, startsInThinking: row.startsInThinking });
      assert.ok(
        alone.events.some((e) => e.type === 'finish'),
        `row ${i} finishes`,
      );
      assert.deepEqual(together[i], alone.events, `row ${i} in the batch`);
      assert.deepEqual(reversed[i], alone.events, `row ${i} in the reversed batch`);
    });
  });

  it('n > 1: samples of one request differ, and each is reproducible from the seed', () => {
    const model = new FakeModel(22);
    const params = { seed: 5, temperature: 1, max_tokens: 10 };
    const rows = [0, 1, 2].map((choiceIndex) => ({ params, startsInThinking: false, choiceIndex }));
    const a = runBatch(rows, model);
    const b = runBatch(rows, model);
    assert.deepEqual(a, b);
    const texts = a.map((events, i) => textOf(events, 'content', i));
    assert.equal(new Set(texts).size, 3, `${JSON.stringify(texts)}`);
    assert.ok(a.every((events, i) => events.every((e) => e.choice === i)));
  });
});
