import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ResolvedNoise } from '../../src/decoding/params.ts';
import { Rng } from '../../src/decoding/rng.ts';
import { Scratch } from '../../src/decoding/scratch.ts';
import { BAG_DROPPED_MASS, SoftThought } from '../../src/decoding/soft-thinking.ts';
import { HIDDEN, logitsWith, output, TOKENIZER_VOCAB } from './helpers.ts';

function soft(
  config: Partial<{ temperature: number; topK: number; topP: number; minP: number }>,
  noise: ResolvedNoise | null = null,
  options: { seed?: number; hiddenSize?: number; embeddingRms?: number } = {},
) {
  return new SoftThought({
    config: { temperature: 0.5, topK: 0, topP: 1, minP: 0, ...config },
    noise,
    tokenizerVocabSize: TOKENIZER_VOCAB,
    hiddenSize: options.hiddenSize ?? HIDDEN,
    embeddingRms: options.embeddingRms ?? 0.02,
    rng: new Rng(options.seed ?? 1),
    scratch: new Scratch(),
  });
}

const LOGITS = logitsWith({ 10: 2, 11: 1.5, 12: 0, 13: -1 });
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0);

describe('soft thinking', () => {
  it('with top_k = 1 is the one-hot argmax', () => {
    const t = soft({ topK: 1 }).think(output(LOGITS));
    assert.deepEqual(Array.from(t.input.ids), [10]);
    assert.deepEqual(Array.from(t.input.weights), [1]);
    assert.equal(t.shadowId, 10);
  });

  it('fuzzy (τ = 1e-4) is one-hot of the argmax up to float precision', () => {
    const t = soft({ temperature: 1e-4 }).think(output(logitsWith({ 10: 2, 11: 1.999 })));
    const w10 = t.input.weights[Array.from(t.input.ids).indexOf(10)];
    assert.ok(w10 > 0.9999, `weight of the argmax ${w10}`);
    assert.equal(t.shadowId, 10);
  });

  it('by default mixes the whole vocabulary at τ = 0.5, renormalised', () => {
    const t = soft({}).think(output(LOGITS));
    // Every tokenizer id carries more than 1e-6 / V of the mass here: all are in the bag.
    assert.equal(t.input.ids.length, TOKENIZER_VOCAB);
    const z = Array.from({ length: TOKENIZER_VOCAB }, (_, i) => Math.exp(LOGITS[i] / 0.5)).reduce(
      (a, b) => a + b,
    );
    const w = new Map(Array.from(t.input.ids, (id, j) => [id, t.input.weights[j]]));
    for (const id of [10, 11, 12, 13, 0]) {
      assert.ok(Math.abs(w.get(id)! - Math.exp(LOGITS[id] / 0.5) / z) < 1e-6, `weight of ${id}`);
    }
    assert.ok(Math.abs(sum(t.input.weights) - 1) < 1e-5);
    assert.equal(t.input.add, undefined);
  });

  it('drops less than BAG_DROPPED_MASS when it leaves tokens out', () => {
    const values: Record<number, number> = {};
    for (let i = 0; i < TOKENIZER_VOCAB; i++) values[i] = -i / 4; // a long tail
    const logits = logitsWith(values);
    const t = soft({ temperature: 0.5 }).think(output(logits));
    assert.ok(t.input.ids.length < TOKENIZER_VOCAB, 'the far tail is dropped');
    const p = Array.from({ length: TOKENIZER_VOCAB }, (_, i) => Math.exp(logits[i] / 0.5));
    const z = sum(p);
    const kept = new Set(t.input.ids);
    const dropped = p.reduce((a, x, i) => a + (kept.has(i) ? 0 : x / z), 0);
    assert.ok(dropped > 0 && dropped < BAG_DROPPED_MASS, `dropped mass ${dropped}`);
  });

  it('truncates with top_p and min_p when asked', () => {
    // p(10) = e² / (e² + e^1.5 + 1 + e^−1 + 257·e^−5) ≈ 0.49
    const t = soft({ temperature: 1, topP: 0.45 }).think(output(LOGITS));
    assert.deepEqual(Array.from(t.input.ids), [10]);
    const m = soft({ temperature: 1, minP: 0.5 }).think(output(LOGITS));
    assert.deepEqual(Array.from(m.input.ids).sort(), [10, 11]);
  });

  it('Gaussian noise has per-coordinate std γ·RMS(E) (within 5%) and is seeded', () => {
    const gamma = 0.33;
    const rms = 0.05;
    const d = 20_000;
    const t = soft({}, { type: 'gaussian', scale: gamma }, { hiddenSize: d, embeddingRms: rms }).think(
      output(LOGITS),
    );
    const add = t.input.add!;
    assert.equal(add.length, d);
    const mean = sum(add) / d;
    const std = Math.sqrt(Array.from(add).reduce((a, x) => a + (x - mean) ** 2, 0) / d);
    assert.ok(Math.abs(std / (gamma * rms) - 1) < 0.05, `std ${std} vs ${gamma * rms}`);
    const again = soft({}, { type: 'gaussian', scale: gamma }, { hiddenSize: d, embeddingRms: rms }).think(
      output(LOGITS),
    );
    assert.deepEqual(again.input.add, add);
    const other = soft({}, { type: 'gaussian', scale: gamma }, { hiddenSize: d, embeddingRms: rms, seed: 2 });
    assert.notDeepEqual(other.think(output(LOGITS)).input.add, add);
  });

  for (const noise of [
    { type: 'dirichlet', alpha: 1 },
    { type: 'gumbel', temperature: 0.5 },
  ] as ResolvedNoise[]) {
    it(`${noise.type} noise gives a valid, seeded, perturbed distribution with the same shadow`, () => {
      const plain = soft({ topK: 4 }).think(output(LOGITS));
      const a = soft({ topK: 4 }, noise, { seed: 3 }).think(output(LOGITS));
      const b = soft({ topK: 4 }, noise, { seed: 3 }).think(output(LOGITS));
      assert.deepEqual(a.input, b.input);
      assert.ok(Array.from(a.input.weights).every((w) => w >= 0 && w <= 1));
      assert.ok(Math.abs(sum(a.input.weights) - 1) < 1e-5);
      assert.notDeepEqual(Array.from(a.input.weights), Array.from(plain.input.weights));
      assert.equal(a.shadowId, plain.shadowId);
    });
  }

  it("Dirichlet noise keeps the mean of the distribution (E[p'] = p)", () => {
    const thought = soft({ topK: 3, temperature: 1 }, { type: 'dirichlet', alpha: 5 }, { seed: 9 });
    const plain = soft({ topK: 3, temperature: 1 }).think(output(LOGITS));
    const mean = new Map<number, number>();
    const runs = 4000;
    for (let r = 0; r < runs; r++) {
      const t = thought.think(output(LOGITS));
      t.input.ids.forEach((id, j) => {
        mean.set(id, (mean.get(id) ?? 0) + t.input.weights[j] / runs);
      });
    }
    plain.input.ids.forEach((id, j) => {
      assert.ok(Math.abs(mean.get(id)! - plain.input.weights[j]) < 0.01, `E[p'(${id})] = ${mean.get(id)}`);
    });
  });
});
