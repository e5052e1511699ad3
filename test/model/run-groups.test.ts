import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CostModel, isDense, planRuns, type RowShape, runCost } from '../../src/model/run-groups.ts';

/** Qwen2.5-0.5B-like costs: ~360M multiply-adds per position, 4 × 896 per bag entry, a dense row 151936 × 896. */
const QWEN: CostModel = {
  positionCost: 3.6e8,
  bagEntryCost: 4 * 896,
  denseCost: 151_936 * 896,
  denseFrom: 37_984,
  runCost: 1e6,
};
const decode = (n: number, bagSize = 1): RowShape[] =>
  Array.from({ length: n }, () => ({ count: 1, bagSize }));

describe('run planning', () => {
  it('keeps a uniform decode batch in one run', () => {
    assert.deepEqual(planRuns(decode(16), QWEN), [[...Array(16).keys()]]);
    assert.deepEqual(
      planRuns(
        [
          { count: 8, bagSize: 1 },
          { count: 7, bagSize: 1 },
        ],
        QWEN,
      ),
      [[0, 1]],
    );
  });

  it('runs a long prompt chunk apart from decode rows', () => {
    const rows = [...decode(3), { count: 512, bagSize: 1 }, ...decode(12)];
    const groups = planRuns(rows, QWEN);
    assert.deepEqual(groups, [[3], [0, 1, 2, ...Array.from({ length: 12 }, (_, i) => 4 + i)]]);
    const one = runCost(rows, QWEN);
    const split = groups.reduce(
      (s, g) =>
        s +
        runCost(
          g.map((i) => rows[i]!),
          QWEN,
        ),
      0,
    );
    assert.ok(split < one / 10, `${split} vs ${one}`);
  });

  it('runs a wide soft-thinking bag apart from narrow rows when its padding costs more than a run', () => {
    const rows = [...decode(15), { count: 1, bagSize: 20_000 }];
    assert.deepEqual(planRuns(rows, QWEN), [[...Array(15).keys()], [15]]);
    // A bag of 10 ids (a pretrained model's soft-thinking default) is cheap to pad: one run.
    assert.equal(planRuns([...decode(15), { count: 1, bagSize: 10 }], QWEN).length, 1);
    // Soft rows all have bags of their own size: the split still falls below the one wide bag.
    const soft = Array.from({ length: 15 }, (_, i) => ({ count: 1, bagSize: 15 - i }));
    assert.deepEqual(planRuns([{ count: 1, bagSize: 20_000 }, ...soft], QWEN), [
      Array.from({ length: 15 }, (_, i) => 15 - i),
      [0],
    ]);
  });

  it('feeds a whole-vocabulary bag densely: it pads no other row, so one run serves all', () => {
    const wide = { count: 1, bagSize: 151_936 };
    assert.ok(isDense(wide, QWEN) && !isDense({ count: 1, bagSize: 20_000 }, QWEN));
    const rows = [...decode(15), wide];
    assert.deepEqual(planRuns(rows, QWEN), [[...Array(16).keys()]]);
    // Dense costs V·D for its own position only; the 15 others keep bags of one id.
    assert.equal(runCost(rows, QWEN), 16 * (3.6e8 + 4 * 896) + 151_936 * 896 + 1e6);
    // A wide sparse bag beside the dense one still goes apart from the narrow rows.
    const mixed = [...decode(8), wide, { count: 1, bagSize: 20_000 }];
    assert.deepEqual(planRuns(mixed, QWEN), [[...Array(8).keys()], [9, 8]]);
  });

  it('counts the padding of every row to the longest chunk and widest bag', () => {
    assert.equal(
      runCost(
        [
          { count: 2, bagSize: 1 },
          { count: 1, bagSize: 3 },
        ],
        { positionCost: 10, bagEntryCost: 1, denseCost: 100, denseFrom: 50, runCost: 5 },
      ),
      2 * 2 * (10 + 3) + 5,
    );
  });
});
