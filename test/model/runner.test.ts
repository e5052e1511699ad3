import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rowLogits } from '../../src/model/batch.ts';
import { maxAbsDiff, openTinyModel, type TinyModel } from '../helpers/tiny-models.ts';
import { tokens } from './runner-conformance.ts';

/** What only the ONNX runner does; what every runner does is runner-conformance.ts. */
describe('ONNX model runner', () => {
  let m: TinyModel;
  before(async () => {
    m = await openTinyModel('runner');
  });
  after(async () => {
    await m.runner.close();
  });

  it('a long prompt chunk beside decode rows runs apart from them, with the same outputs', async () => {
    // One run would pad 6 decode rows to the chunk's 64 positions: 7 × 64 positions for 70.
    const chunk = tokens(64, 40);
    const decoders = [41, 42, 43, 44, 45, 46].map((seed) => tokens(5, seed));
    const alone: Float32Array[] = [];
    for (const [i, d] of decoders.entries()) {
      await m.runner.step({
        rows: [{ seq: 200 + i, count: 4, bagSize: 1, ids: Int32Array.from(d.slice(0, 4)) }],
      });
      const r = await m.runner.step({
        rows: [{ seq: 200 + i, count: 1, bagSize: 1, ids: Int32Array.of(d[4]!) }],
      });
      alone.push(rowLogits(r, 0).slice());
    }
    const chunkAlone = await m.runner.step({
      rows: [{ seq: 210, count: 64, bagSize: 1, ids: Int32Array.from(chunk) }],
    });
    for (const [i, d] of decoders.entries())
      await m.runner.step({
        rows: [{ seq: 220 + i, count: 4, bagSize: 1, ids: Int32Array.from(d.slice(0, 4)) }],
      });
    const runsBefore = m.runner.runs;
    const mixed = await m.runner.step({
      rows: [
        ...decoders
          .slice(0, 3)
          .map((d, i) => ({ seq: 220 + i, count: 1, bagSize: 1, ids: Int32Array.of(d[4]!) })),
        { seq: 230, count: 64, bagSize: 1, ids: Int32Array.from(chunk) },
        ...decoders
          .slice(3)
          .map((d, i) => ({ seq: 223 + i, count: 1, bagSize: 1, ids: Int32Array.of(d[4]!) })),
      ],
    });
    assert.equal(m.runner.runs - runsBefore, 2, 'the chunk and the decode rows ran apart');
    assert.deepEqual([...mixed.offsets], [0, 1, 2, 3, 4, 5, 6]);
    for (let i = 0; i < 6; i++) {
      const row = i < 3 ? i : i + 1;
      assert.ok(maxAbsDiff(rowLogits(mixed, row), alone[i]!) < 1e-4, `decode row ${i}`);
    }
    assert.ok(maxAbsDiff(rowLogits(mixed, 3), rowLogits(chunkAlone, 0)) < 1e-4, 'chunk row');
    assert.equal(m.runner.kvLength(230), 64, 'the chunk KV was appended');
    assert.equal(m.runner.kvLength(225), 5, 'the decode KV was appended');
    for (const s of [200, 201, 202, 203, 204, 205, 210, 220, 221, 222, 223, 224, 225, 230])
      await m.runner.step({ frees: [s], rows: [] });
  });

  it('a bag of one id with weight 1 equals the plain token', async () => {
    const ids = tokens(6, 9);
    const plain = await m.runner.step({
      rows: [{ seq: 20, count: 6, bagSize: 1, ids: Int32Array.from(ids), allPositions: true }],
    });
    // Same ids as 3-entry bags whose other entries carry weight 0.
    const bagIds = new Int32Array(18);
    const bagW = new Float32Array(18);
    ids.forEach((id, t) => {
      bagIds.set([id, (id + 1) % 261, (id + 2) % 261], t * 3);
      bagW[t * 3] = 1;
    });
    const bag = await m.runner.step({
      rows: [{ seq: 21, count: 6, bagSize: 3, ids: bagIds, weights: bagW, allPositions: true }],
    });
    assert.ok(maxAbsDiff(plain.logits, bag.logits) < 1e-5);
    await m.runner.step({ frees: [20], rows: [] });
    await m.runner.step({ frees: [21], rows: [] });
  });

  it('rejects a step beyond the model length', async () => {
    await assert.rejects(
      m.runner.step({
        rows: [
          { seq: 40, count: m.cfg.maxPositions + 1, bagSize: 1, ids: new Int32Array(m.cfg.maxPositions + 1) },
        ],
      }),
      /exceed the model/,
    );
  });
});
