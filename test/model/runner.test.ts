import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rowHidden, rowLogits } from '../../src/model/batch.ts';
import { referenceForward } from '../../src/model/reference-forward.ts';
import { maxAbsDiff, openTinyModel, type TinyModel } from '../helpers/tiny-models.ts';

/** Seeded token stream inside the tokenizer's 261 ids. */
function tokens(n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % 261;
  });
}

describe('model runner', () => {
  let m: TinyModel;
  before(async () => {
    m = await openTinyModel('runner');
  });
  after(async () => {
    await m.runner.close();
  });

  it('incremental KV decode equals full recompute over 120 steps', async () => {
    const ids = tokens(128, 7);
    const full = await m.runner.step([
      { seq: 100, count: ids.length, bagSize: 1, ids: Int32Array.from(ids), allPositions: true },
    ]);
    const prefill = 8;
    await m.runner.step([
      { seq: 101, count: prefill, bagSize: 1, ids: Int32Array.from(ids.slice(0, prefill)) },
    ]);
    let worst = 0;
    for (let t = prefill; t < ids.length; t++) {
      const r = await m.runner.step([{ seq: 101, count: 1, bagSize: 1, ids: Int32Array.of(ids[t]!) }]);
      worst = Math.max(worst, maxAbsDiff(rowLogits(r, 0), rowLogits(full, t)));
    }
    assert.equal(m.runner.kv.length(101), ids.length);
    assert.ok(worst < 1e-4, `max |logit diff| ${worst}`);
    m.runner.kv.free(100);
    m.runner.kv.free(101);
  });

  it('batched rows of different lengths and kinds equal each row run alone', async () => {
    const a = tokens(12, 1);
    const b = tokens(9, 2);
    const c = tokens(5, 3);
    // Alone: a prefill 7 then decode 1; b prefill 3 then a 4-token chunk on top of its cache; c prefill 5.
    await m.runner.step([{ seq: 1, count: 7, bagSize: 1, ids: Int32Array.from(a.slice(0, 7)) }]);
    const aloneA = await m.runner.step([{ seq: 1, count: 1, bagSize: 1, ids: Int32Array.of(a[7]!) }]);
    await m.runner.step([{ seq: 2, count: 3, bagSize: 1, ids: Int32Array.from(b.slice(0, 3)) }]);
    const aloneB = await m.runner.step([
      { seq: 2, count: 4, bagSize: 1, ids: Int32Array.from(b.slice(3, 7)), allPositions: true },
    ]);
    const aloneC = await m.runner.step([{ seq: 3, count: 5, bagSize: 1, ids: Int32Array.from(c) }]);
    // Batched: the same histories, the last steps in one call.
    await m.runner.step([
      { seq: 11, count: 7, bagSize: 1, ids: Int32Array.from(a.slice(0, 7)) },
      { seq: 12, count: 3, bagSize: 1, ids: Int32Array.from(b.slice(0, 3)) },
    ]);
    const mixed = await m.runner.step([
      { seq: 11, count: 1, bagSize: 1, ids: Int32Array.of(a[7]!) },
      { seq: 12, count: 4, bagSize: 1, ids: Int32Array.from(b.slice(3, 7)), allPositions: true },
      { seq: 13, count: 5, bagSize: 1, ids: Int32Array.from(c) },
    ]);
    assert.deepEqual([...mixed.offsets], [0, 1, 5]);
    assert.ok(maxAbsDiff(rowLogits(mixed, 0), rowLogits(aloneA, 0)) < 1e-4, 'decode row');
    for (let s = 0; s < 4; s++) {
      assert.ok(maxAbsDiff(rowLogits(mixed, 1 + s), rowLogits(aloneB, s)) < 1e-4, `chunk row position ${s}`);
    }
    assert.ok(maxAbsDiff(rowLogits(mixed, 5), rowLogits(aloneC, 0)) < 1e-4, 'new prefill row');
    assert.ok(maxAbsDiff(rowHidden(mixed, 5), rowHidden(aloneC, 0)) < 1e-4, 'hidden of new prefill row');
    for (const s of [1, 2, 3, 11, 12, 13]) m.runner.kv.free(s);
  });

  it('a long prompt chunk beside decode rows runs apart from them, with the same outputs', async () => {
    // One run would pad 6 decode rows to the chunk's 64 positions: 7 × 64 positions for 70.
    const chunk = tokens(64, 40);
    const decoders = [41, 42, 43, 44, 45, 46].map((seed) => tokens(5, seed));
    const alone: Float32Array[] = [];
    for (const [i, d] of decoders.entries()) {
      await m.runner.step([{ seq: 200 + i, count: 4, bagSize: 1, ids: Int32Array.from(d.slice(0, 4)) }]);
      const r = await m.runner.step([{ seq: 200 + i, count: 1, bagSize: 1, ids: Int32Array.of(d[4]!) }]);
      alone.push(rowLogits(r, 0).slice());
    }
    const chunkAlone = await m.runner.step([
      { seq: 210, count: 64, bagSize: 1, ids: Int32Array.from(chunk) },
    ]);
    for (const [i, d] of decoders.entries())
      await m.runner.step([{ seq: 220 + i, count: 4, bagSize: 1, ids: Int32Array.from(d.slice(0, 4)) }]);
    const runsBefore = m.runner.runs;
    const mixed = await m.runner.step([
      ...decoders
        .slice(0, 3)
        .map((d, i) => ({ seq: 220 + i, count: 1, bagSize: 1, ids: Int32Array.of(d[4]!) })),
      { seq: 230, count: 64, bagSize: 1, ids: Int32Array.from(chunk) },
      ...decoders.slice(3).map((d, i) => ({ seq: 223 + i, count: 1, bagSize: 1, ids: Int32Array.of(d[4]!) })),
    ]);
    assert.equal(m.runner.runs - runsBefore, 2, 'the chunk and the decode rows ran apart');
    assert.deepEqual([...mixed.offsets], [0, 1, 2, 3, 4, 5, 6]);
    for (let i = 0; i < 6; i++) {
      const row = i < 3 ? i : i + 1;
      assert.ok(maxAbsDiff(rowLogits(mixed, row), alone[i]!) < 1e-4, `decode row ${i}`);
    }
    assert.ok(maxAbsDiff(rowLogits(mixed, 3), rowLogits(chunkAlone, 0)) < 1e-4, 'chunk row');
    assert.equal(m.runner.kv.length(230), 64, 'the chunk KV was appended');
    assert.equal(m.runner.kv.length(225), 5, 'the decode KV was appended');
    for (const s of [200, 201, 202, 203, 204, 205, 210, 220, 221, 222, 223, 224, 225, 230])
      m.runner.kv.free(s);
  });

  it('a bag of one id with weight 1 equals the plain token', async () => {
    const ids = tokens(6, 9);
    const plain = await m.runner.step([
      { seq: 20, count: 6, bagSize: 1, ids: Int32Array.from(ids), allPositions: true },
    ]);
    // Same ids as 3-entry bags whose other entries carry weight 0.
    const bagIds = new Int32Array(18);
    const bagW = new Float32Array(18);
    ids.forEach((id, t) => {
      bagIds.set([id, (id + 1) % 261, (id + 2) % 261], t * 3);
      bagW[t * 3] = 1;
    });
    const bag = await m.runner.step([
      { seq: 21, count: 6, bagSize: 3, ids: bagIds, weights: bagW, allPositions: true },
    ]);
    assert.ok(maxAbsDiff(plain.logits, bag.logits) < 1e-5);
    m.runner.kv.free(20);
    m.runner.kv.free(21);
  });

  it('a two-id bag equals the mixed embedding (reference, and as an additive embedding)', async () => {
    const prompt = tokens(4, 11);
    const mix = { ids: [40, 90], weights: [0.3, 0.7] };
    const ref = referenceForward(m.cfg, m.weights, [
      ...prompt.map((id) => ({ ids: [id], weights: [1] })),
      mix,
      { ids: [7], weights: [1] },
    ]);
    await m.runner.step([{ seq: 30, count: 4, bagSize: 1, ids: Int32Array.from(prompt) }]);
    const viaBag = await m.runner.step([
      {
        seq: 30,
        count: 1,
        bagSize: 2,
        ids: Int32Array.from(mix.ids),
        weights: Float32Array.from(mix.weights),
      },
    ]);
    assert.ok(maxAbsDiff(rowLogits(viaBag, 0), ref.logits[4]!) < 1e-4, 'bag vs reference');
    const next = await m.runner.step([{ seq: 30, count: 1, bagSize: 1, ids: Int32Array.of(7) }]);
    assert.ok(maxAbsDiff(rowLogits(next, 0), ref.logits[5]!) < 1e-4, 'position after the bag');

    // The same mixture passed as an additive embedding with an all-zero bag.
    const E = m.weights.get('model.embed_tokens.weight')!.data;
    const D = m.cfg.hiddenSize;
    const add = new Float32Array(D);
    for (let d = 0; d < D; d++) add[d] = 0.3 * E[40 * D + d]! + 0.7 * E[90 * D + d]!;
    await m.runner.step([{ seq: 31, count: 4, bagSize: 1, ids: Int32Array.from(prompt) }]);
    const viaAdd = await m.runner.step([
      { seq: 31, count: 1, bagSize: 1, ids: Int32Array.of(0), weights: Float32Array.of(0), add },
    ]);
    assert.ok(maxAbsDiff(rowLogits(viaAdd, 0), rowLogits(viaBag, 0)) < 1e-4, 'additive embedding vs bag');
    m.runner.kv.free(30);
    m.runner.kv.free(31);
  });

  it('rejects a step beyond the model length', async () => {
    await assert.rejects(
      m.runner.step([
        { seq: 40, count: m.cfg.maxPositions + 1, bagSize: 1, ids: new Int32Array(m.cfg.maxPositions + 1) },
      ]),
      /exceed the model/,
    );
  });
});
