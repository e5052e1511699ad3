import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planRuns, type RowShape, runCost } from '../../src/model/run-groups.ts';

/** Qwen2.5-0.5B-like costs: ~360M multiply-adds per position, 896 per bag entry. */
const QWEN = { positionCost: 3.6e8, bagEntryCost: 896, runCost: 1e6 };
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
    const rows = [...decode(15), { count: 1, bagSize: 150_000 }];
    assert.deepEqual(planRuns(rows, QWEN), [[...Array(15).keys()], [15]]);
    // A bag of 30 ids is cheap to pad: one run.
    assert.equal(planRuns([...decode(15), { count: 1, bagSize: 30 }], QWEN).length, 1);
    // Soft rows all have bags of their own size: the split still falls below the one wide bag.
    const soft = Array.from({ length: 15 }, (_, i) => ({ count: 1, bagSize: 15 - i }));
    assert.deepEqual(planRuns([{ count: 1, bagSize: 150_000 }, ...soft], QWEN), [
      Array.from({ length: 15 }, (_, i) => 15 - i),
      [0],
    ]);
  });

  it('counts the padding of every row to the longest chunk and widest bag', () => {
    assert.equal(
      runCost(
        [
          { count: 2, bagSize: 1 },
          { count: 1, bagSize: 3 },
        ],
        { positionCost: 10, bagEntryCost: 1, runCost: 5 },
      ),
      2 * 2 * (10 + 3) + 5,
    );
  });
});
