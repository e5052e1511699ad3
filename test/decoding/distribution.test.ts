import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { truncatedDistribution } from '../../src/decoding/distribution.ts';
import { Scratch } from '../../src/decoding/scratch.ts';
import { topK } from '../../src/decoding/top-k.ts';

const scratch = new Scratch();
const cfg = (c: Partial<{ temperature: number; topK: number; topP: number; minP: number }>) => ({
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  ...c,
});

/** Candidates as an id → p map. */
function asMap(logits: Float32Array, c: ReturnType<typeof cfg>, dropBelow = 0): Map<number, number> {
  const d = truncatedDistribution(logits, logits.length, c, scratch, dropBelow);
  return new Map(Array.from({ length: d.count }, (_, j) => [d.ids[j], d.probs[j]]));
}

function assertDist(actual: Map<number, number>, expected: Record<number, number>) {
  assert.deepEqual([...actual.keys()].sort(), Object.keys(expected).map(Number).sort());
  for (const [id, p] of Object.entries(expected)) {
    assert.ok(Math.abs(actual.get(Number(id))! - p) < 1e-6, `p(${id}) = ${actual.get(Number(id))} ≠ ${p}`);
  }
}

// p = 0.5, 0.3, 0.15, 0.05 at T = 1.
const L = Float32Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));

describe('truncatedDistribution (temperature, top_k, top_p, min_p)', () => {
  it('is softmax(l / T) without truncation', () => {
    const l = Float32Array.of(1, 2, 3);
    const z = Math.exp(0.5) + Math.exp(1) + Math.exp(1.5);
    assertDist(asMap(l, cfg({ temperature: 2 })), {
      0: Math.exp(0.5) / z,
      1: Math.exp(1) / z,
      2: Math.exp(1.5) / z,
    });
  });

  it('is the one-hot argmax at T = 0 and top_k = 1 (lowest id on ties)', () => {
    assertDist(asMap(Float32Array.of(1, 3, 3, 2), cfg({ temperature: 0 })), { 1: 1 });
    assertDist(asMap(Float32Array.of(1, 3, 3, 2), cfg({ topK: 1 })), { 1: 1 });
  });

  it('top_k keeps the k most likely, renormalised', () => {
    assertDist(asMap(L, cfg({ topK: 2 })), { 0: 0.5 / 0.8, 1: 0.3 / 0.8 });
  });

  it('top_p keeps the smallest prefix with mass ≥ top_p', () => {
    assertDist(asMap(L, cfg({ topP: 0.79 })), { 0: 0.5 / 0.8, 1: 0.3 / 0.8 });
    assertDist(asMap(L, cfg({ topP: 0.81 })), { 0: 0.5 / 0.95, 1: 0.3 / 0.95, 2: 0.15 / 0.95 });
    assertDist(asMap(L, cfg({ topP: 0.1 })), { 0: 1 });
  });

  it('top_p applies after top_k (on the renormalised top-k mass)', () => {
    // Over the full mass two tokens give 0.8 < 0.83 (three needed); over the top-3 mass 0.95
    // they give 0.842 ≥ 0.83, so two are kept.
    assert.equal(asMap(L, cfg({ topP: 0.83 })).size, 3);
    assertDist(asMap(L, cfg({ topK: 3, topP: 0.83 })), { 0: 0.5 / 0.8, 1: 0.3 / 0.8 });
  });

  it('min_p keeps p ≥ min_p · p_max', () => {
    // threshold 0.29 · 0.5 = 0.145: keeps 0.5, 0.3, 0.15; 0.31 · 0.5 = 0.155 drops 0.15.
    assertDist(asMap(L, cfg({ minP: 0.29 })), { 0: 0.5 / 0.95, 1: 0.3 / 0.95, 2: 0.15 / 0.95 });
    assertDist(asMap(L, cfg({ minP: 0.31 })), { 0: 0.5 / 0.8, 1: 0.3 / 0.8 });
  });

  it('top_p over a large vocabulary matches a full sort', () => {
    let s = 9;
    const logits = Float32Array.from({ length: 50_000 }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return (s / 2 ** 32) * 6;
    });
    const d = asMap(logits, cfg({ topP: 0.9 }));
    const p = Array.from(logits, (l) => Math.exp(l));
    const z = p.reduce((a, b) => a + b, 0);
    const order = p.map((_, i) => i).sort((a, b) => p[b] - p[a]);
    let cum = 0;
    let keep = 0;
    while (cum < 0.9 * z) cum += p[order[keep++]];
    assert.equal(d.size, keep);
    assert.deepEqual(
      [...d.keys()].sort((a, b) => a - b),
      order.slice(0, keep).sort((a, b) => a - b),
    );
  });

  it('dropMass drops only the least likely tokens, at most that much mass (whole vocabulary otherwise)', () => {
    const l = Float32Array.from([0, -1, -30, -39]);
    const d = asMap(l, cfg({}), 1e-10);
    assert.deepEqual([...d.keys()], [0, 1], 'e^-30 / Z ≈ 7e-14 and e^-39 / Z fit in 1e-10');
    assert.equal(asMap(l, cfg({})).size, 4);
    assert.equal(asMap(l, cfg({}), 5e-14).size, 3, 'e^-30 / Z alone exceeds 5e-14: only e^-39 goes');
  });
});

describe('topK', () => {
  it('returns the k largest best first, ties by lower id', () => {
    const out = new Int32Array(3);
    assert.equal(topK(Float32Array.of(1, 5, 3, 5, 2), 5, 3, out), 3);
    assert.deepEqual(Array.from(out), [1, 3, 2]);
  });
});
