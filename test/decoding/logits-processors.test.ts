import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyFrequencyPresence,
  applyLogitBias,
  applyRepetitionPenalty,
  PenaltyState,
  processLogits,
} from '../../src/decoding/logits-processors.ts';
import { Scratch } from '../../src/decoding/scratch.ts';

function close(actual: ArrayLike<number>, expected: number[]): void {
  expected.forEach((e, i) => {
    assert.ok(Math.abs(actual[i] - e) < 1e-6, `[${i}] ${actual[i]} ≠ ${e}`);
  });
}

describe('logits processors', () => {
  it('adds logit_bias to the listed ids only', () => {
    const l = Float32Array.of(1, 2, 3);
    applyLogitBias(
      l,
      new Map([
        [2, -100],
        [0, 0.5],
      ]),
    );
    close(l, [1.5, 2, -97]);
  });

  it('repetition penalty divides positive and multiplies negative logits of seen ids', () => {
    const l = Float32Array.of(2, -2, 3, 4);
    applyRepetitionPenalty(l, new Set([0, 1]), 2);
    close(l, [1, -4, 3, 4]);
  });

  it('frequency and presence penalties follow OpenAI: count·f + (count > 0)·p', () => {
    const l = Float32Array.of(1, 1, 1);
    applyFrequencyPresence(
      l,
      new Map([
        [0, 3],
        [2, 1],
      ]),
      0.5,
      0.25,
    );
    close(l, [1 - 1.5 - 0.25, 1, 1 - 0.5 - 0.25]);
  });

  it('processLogits applies bias, repetition, frequency/presence in that order on a copy', () => {
    const raw = Float32Array.of(2, 1, -1, 0, 99); // id 4 is padding
    const state = new PenaltyState([1], true);
    state.record(0);
    state.record(0);
    const edits = {
      logitBias: new Map([[0, 2]]),
      repetitionPenalty: 2,
      frequencyPenalty: 0.5,
      presencePenalty: 1,
    };
    const out = processLogits(raw, 4, edits, state, new Scratch());
    // id 0: (2 + 2) / 2 − 2·0.5 − 1 = 0; id 1 (prompt, seen): 1 / 2; others unchanged.
    close(out, [0, 0.5, -1, 0]);
    assert.equal(out.length, 4, 'padded ids are cut off');
    close(raw, [2, 1, -1, 0, 99]);
  });

  it('without edits returns a view of the runner logits (no copy)', () => {
    const raw = Float32Array.of(1, 2, 3, 4);
    const out = processLogits(
      raw,
      3,
      { logitBias: new Map(), repetitionPenalty: 1, frequencyPenalty: 0, presencePenalty: 0 },
      new PenaltyState([], false),
      new Scratch(),
    );
    assert.equal(out.buffer, raw.buffer);
    assert.equal(out.length, 3);
  });
});
