import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildNgramStore } from '../../src/decoding/ngram-build.ts';
import { NgramStore } from '../../src/decoding/ngram-store.ts';

function randomDocs(seed: number, lengths: number[], vocab: number): number[][] {
  let s = seed;
  return lengths.map((len) =>
    Array.from({ length: len }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      // Skewed so that contexts repeat and runs have several continuations.
      return Math.floor((s / 2 ** 32) ** 2 * vocab);
    }),
  );
}

/** Naive counts: "n-gram joined" → count, and "context joined" → total, per document. */
function naive(docs: number[][], n: number) {
  const grams = new Map<string, number>();
  const contexts = new Map<string, number>();
  for (const d of docs) {
    for (let i = 0; i + n <= d.length; i++) {
      const g = d.slice(i, i + n);
      grams.set(g.join(','), (grams.get(g.join(',')) ?? 0) + 1);
      const c = g.slice(0, -1).join(',');
      contexts.set(c, (contexts.get(c) ?? 0) + 1);
    }
  }
  return { grams, contexts };
}

function assertMatchesNaive(store: NgramStore, docs: number[][]) {
  for (let n = 2; n <= 6; n++) {
    const { grams, contexts } = naive(docs, n);
    let checked = 0;
    for (const [key, count] of grams) {
      const g = key.split(',').map(Number);
      assert.equal(store.countOf(g), count, `count of ${key}`);
      const ctx = store.findContext(n, g, n - 1);
      assert.equal(store.contextTotal(n, ctx), contexts.get(g.slice(0, -1).join(',')), `total of ${key}`);
      checked++;
    }
    assert.equal(store.table(n).next.length, grams.size, `order ${n}: one entry per distinct n-gram`);
    assert.equal(store.table(n).keyHi.length, contexts.size, `order ${n}: one row per distinct context`);
    assert.ok(checked > 0);
  }
}

describe('NgramStore', () => {
  const docs = randomDocs(1, [400, 60, 3, 0], 12);
  const store = buildNgramStore(docs, 12);

  it('counts equal a naive count on a small corpus (n = 2..6, no n-gram across documents)', () => {
    assertMatchesNaive(store, docs);
    const crossing = [docs[1].at(-1)!, docs[2][0], docs[2][1]];
    const inside = naive(docs, 3).grams.get(crossing.join(',')) ?? 0;
    assert.equal(store.countOf(crossing), inside);
  });

  it('returns 0 for unseen n-grams and −1 for unseen or too-short contexts', () => {
    const tiny = buildNgramStore([[1, 2, 3, 1, 2, 4]], 10);
    assert.equal(tiny.countOf([1, 2]), 2);
    assert.equal(tiny.countOf([2, 5]), 0);
    assert.equal(tiny.countOf([9, 9, 9]), 0);
    assert.equal(tiny.findContext(4, [1, 2], 2), -1, 'context shorter than n − 1');
  });

  it('round-trips through its file format, also from an unaligned buffer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ngram-'));
    try {
      store.save(join(dir, 'ngram.bin'));
      assertMatchesNaive(NgramStore.load(join(dir, 'ngram.bin')), docs);
    } finally {
      rmSync(dir, { recursive: true });
    }
    const bytes = store.toBuffer();
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    assertMatchesNaive(NgramStore.fromBuffer(shifted.subarray(3)), docs);
  });

  it('rejects a bad magic, version or truncated file', () => {
    const bytes = store.toBuffer();
    const bad = bytes.slice();
    bad[0] = 0;
    assert.throws(() => NgramStore.fromBuffer(bad), /bad magic/);
    const version = bytes.slice();
    version[8] = 9;
    assert.throws(() => NgramStore.fromBuffer(version), /version/);
    assert.throws(() => NgramStore.fromBuffer(bytes.subarray(0, bytes.length - 16)), /truncated/);
  });

  it('rejects ids outside the vocabulary', () => {
    assert.throws(() => buildNgramStore([[1, 12]], 12), /outside vocab/);
  });
});

describe('NgramStore.interpolate', () => {
  it('matches a hand-computed example', () => {
    // a b c a b d a b c  →  ids 1 2 3 1 2 4 1 2 3
    const store = buildNgramStore([[1, 2, 3, 1, 2, 4, 1, 2, 3]], 10);
    const out = new Float64Array(3);
    store.interpolate([4, 1, 2], [3, 4, 7], 3, [0.01, 0.04, 0.15, 0.18, 0.12], out);
    // n=2, ctx [2]: 3 ×2, 4 ×1 of 3.  n=3, ctx [1 2]: 3 ×2, 4 ×1 of 3.  n=4, ctx [4 1 2]: 3 ×1 of 1.
    // n=5, 6: the context is too short and adds 0.
    const expected = [0.01 * (2 / 3) + 0.04 * (2 / 3) + 0.15 * 1, 0.01 * (1 / 3) + 0.04 * (1 / 3), 0];
    expected.forEach((e, j) => {
      assert.ok(Math.abs(out[j] - e) < 1e-12, `ng[${j}] = ${out[j]} ≠ ${e}`);
    });
  });
});
