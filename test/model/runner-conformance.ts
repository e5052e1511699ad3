import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RowStep, type Runner, rowHidden, rowLogits } from '../../src/model/batch.ts';
import type { ModelConfig } from '../../src/model/hf-config.ts';
import { referenceForward } from '../../src/model/reference-forward.ts';
import type { Tensor } from '../../src/model/safetensors.ts';
import { maxAbsDiff } from '../helpers/tiny-models.ts';

/**
 * What every `Runner` must do for the engine: one suite, run against the ONNX runner (float32 and
 * float16 KV) and the KV-cached float64 reference runner on the same tiny weights. Each is checked
 * against the float64 full forward (`referenceForward`) and against itself (incremental vs whole,
 * batched vs alone, copies vs recompute, frees).
 */

export interface RunnerUnderTest {
  runner: Runner;
  cfg: ModelConfig;
  weights: Map<string, Tensor>;
  /** KV bytes of one position the runner must report. */
  kvBytesPerPosition: number;
  /** Largest |logit difference| allowed against the float64 forward. */
  tolerance: number;
  /**
   * Largest |logit difference| between two ways of computing the same positions in this runner
   * (batched vs alone, copied vs recomputed): KV read back at a lower precision moves logits.
   */
  selfTolerance: number;
}

/** Seeded token stream inside the tokenizer's 261 ids. */
export function tokens(n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % 261;
  });
}

const plain = (seq: number, ids: number[], allPositions = false): RowStep => ({
  seq,
  count: ids.length,
  bagSize: 1,
  ids: Int32Array.from(ids),
  ...(allPositions && { allPositions }),
});

export function runnerConformance(name: string, open: () => Promise<RunnerUnderTest>): void {
  describe(`Runner conformance: ${name}`, () => {
    let t: RunnerUnderTest;
    let runner: Runner;
    let nextSeq = 1;
    const seq = () => nextSeq++;
    const reference = (ids: number[]) =>
      referenceForward(
        t.cfg,
        t.weights,
        ids.map((id) => ({ ids: [id], weights: [1] })),
      );

    before(async () => {
      t = await open();
      runner = t.runner;
    });
    after(async () => {
      await runner.close();
    });

    it('reports its KV geometry and model shape', () => {
      assert.ok(Number.isInteger(runner.kvBlockSize) && runner.kvBlockSize >= 1);
      assert.equal(runner.kvBytesPerPosition, t.kvBytesPerPosition);
      assert.equal(runner.vocabSize, t.cfg.vocabSize);
      assert.equal(runner.hiddenSize, t.cfg.hiddenSize);
    });

    it('prefill then decode equals the float64 forward, position by position', async () => {
      const ids = tokens(24, 7);
      const ref = reference(ids);
      const s = seq();
      const prefill = await runner.step({ rows: [plain(s, ids.slice(0, 8), true)] });
      let worst = 0;
      for (let i = 0; i < 8; i++) worst = Math.max(worst, maxAbsDiff(rowLogits(prefill, i), ref.logits[i]!));
      for (let i = 8; i < ids.length; i++) {
        const r = await runner.step({ rows: [plain(s, [ids[i]!])] });
        worst = Math.max(worst, maxAbsDiff(rowLogits(r, 0), ref.logits[i]!));
        if (i === ids.length - 1)
          assert.ok(maxAbsDiff(rowHidden(r, 0), ref.hidden[i]!) < t.tolerance, 'last hidden state');
      }
      assert.equal(runner.kvLength(s), ids.length);
      assert.ok(worst < t.tolerance, `max |logit diff| ${worst}`);
      await runner.step({ frees: [s], rows: [] });
    });

    it('computes rows of different lengths and bags in one step as each alone', async () => {
      const a = tokens(9, 1);
      const b = tokens(5, 2);
      const [sa, sb, ta, tb] = [seq(), seq(), seq(), seq()];
      await runner.step({ rows: [plain(sa, a.slice(0, 6))] });
      const aloneA = await runner.step({ rows: [plain(sa, a.slice(6), true)] });
      const aloneB = await runner.step({ rows: [plain(sb, b)] });
      await runner.step({ rows: [plain(ta, a.slice(0, 6))] });
      const mixed = await runner.step({ rows: [plain(tb, b), plain(ta, a.slice(6), true)] });
      assert.deepEqual([...mixed.offsets], [0, 1]);
      assert.ok(maxAbsDiff(rowLogits(mixed, 0), rowLogits(aloneB, 0)) < t.selfTolerance, 'prefill row');
      for (let i = 0; i < 3; i++)
        assert.ok(
          maxAbsDiff(rowLogits(mixed, 1 + i), rowLogits(aloneA, i)) < t.selfTolerance,
          `chunk position ${i}`,
        );
      await runner.step({ frees: [sa, sb, ta, tb], rows: [] });
    });

    it('embeds a bag as the weighted sum of its ids, the same as an additive embedding', async () => {
      const prompt = tokens(4, 11);
      const mix = { ids: [40, 90], weights: [0.3, 0.7] };
      const ref = referenceForward(t.cfg, t.weights, [
        ...prompt.map((id) => ({ ids: [id], weights: [1] })),
        mix,
      ]);
      const [s1, s2] = [seq(), seq()];
      await runner.step({ rows: [plain(s1, prompt), plain(s2, prompt)] });
      const E = t.weights.get('model.embed_tokens.weight')!.data;
      const D = t.cfg.hiddenSize;
      const add = new Float32Array(D);
      for (let d = 0; d < D; d++) add[d] = 0.3 * E[40 * D + d]! + 0.7 * E[90 * D + d]!;
      const r = await runner.step({
        rows: [
          {
            seq: s1,
            count: 1,
            bagSize: 2,
            ids: Int32Array.from(mix.ids),
            weights: Float32Array.from(mix.weights),
          },
          { seq: s2, count: 1, bagSize: 1, ids: Int32Array.of(0), weights: Float32Array.of(0), add },
        ],
      });
      assert.ok(maxAbsDiff(rowLogits(r, 0), ref.logits[4]!) < t.tolerance, 'bag vs the float64 forward');
      assert.ok(maxAbsDiff(rowLogits(r, 1), rowLogits(r, 0)) < t.selfTolerance, 'additive embedding vs bag');
      await runner.step({ frees: [s1, s2], rows: [] });
    });

    it('starts a holder from a copy or a fork of another, applied before the plan frees the source', async () => {
      const ids = tokens(20, 5);
      const [src, copy, fork, fresh] = [seq(), seq(), seq(), seq()];
      await runner.step({ rows: [plain(src, ids.slice(0, 12))] });
      const before = runner.kvBytes();
      // One plan: copy and fork the first 10 positions, free the source, continue both.
      const r = await runner.step({
        copies: [{ from: src, to: copy, length: 10 }],
        forks: [{ from: src, to: fork, length: 10 }],
        frees: [src],
        rows: [plain(copy, ids.slice(10, 14)), plain(fork, ids.slice(10, 14))],
      });
      assert.equal(runner.kvLength(src), 0, 'the source is gone');
      assert.equal(runner.kvLength(copy), 14);
      const whole = await runner.step({ rows: [plain(fresh, ids.slice(0, 14))] });
      assert.ok(
        maxAbsDiff(rowLogits(r, 0), rowLogits(whole, 0)) < t.selfTolerance,
        'copy continues as a recompute',
      );
      assert.ok(
        maxAbsDiff(rowLogits(r, 1), rowLogits(whole, 0)) < t.selfTolerance,
        'fork continues as a recompute',
      );
      assert.ok(before > 0);
      const empty = await runner.step({ frees: [copy, fork, fresh], rows: [] });
      assert.equal(empty.offsets.length, 0, 'a plan without rows computes nothing');
      assert.equal(runner.kvBytes(), 0, 'every holder freed: no KV held');
    });
  });
}
