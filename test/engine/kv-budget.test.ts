import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeKvBudget, freeMemory, kvBudget } from '../../src/engine/kv-budget.ts';

/** The default KV budget: what max_num_seqs × max_model_len can use, plus the prefix cache's share. */

const MiB = 2 ** 20;
const BLOCK = 16;
const base = {
  maxNumSeqs: 64,
  maxModelLen: 512,
  bytesPerPosition: 2048,
  blockSize: BLOCK,
  models: 1,
  freeBytes: 16 * 2 ** 30,
};

describe('KV budget', () => {
  it('derives sequences at full length plus the prefix cache share (the default checkpoint: 64 MiB + 16 MiB)', () => {
    const b = kvBudget(base);
    assert.equal(b.sequencesBytes, 64 * MiB);
    assert.equal(b.bytes, 80 * MiB);
    assert.deepEqual([b.derived, b.capped], [true, false]);
    assert.match(
      describeKvBudget(b, 64, 512),
      /^80\.0 MiB \(64 sequences × 512 positions × 2048 B = 64\.0 MiB/,
    );
  });

  it('counts whole blocks per sequence, of the runner’s block size', () => {
    const b = kvBudget({ ...base, maxNumSeqs: 1, maxModelLen: BLOCK + 1 });
    assert.equal(b.sequencesBytes, 2 * BLOCK * 2048);
    const big = kvBudget({ ...base, maxNumSeqs: 1, maxModelLen: BLOCK + 1, blockSize: 4 * BLOCK });
    assert.equal(big.sequencesBytes, 4 * BLOCK * 2048);
  });

  it('takes the runner’s bytes per position: float16 KV holds twice the positions in the same cap', () => {
    const fp32 = kvBudget({ ...base, freeBytes: 40 * MiB });
    const fp16 = kvBudget({ ...base, freeBytes: 40 * MiB, bytesPerPosition: 1024 });
    assert.equal(fp16.sequencesBytes * 2, fp32.sequencesBytes);
    assert.equal(fp16.bytes / 1024, (2 * fp32.bytes) / 2048);
  });

  it('is capped by half the free memory, shared by the models, and never below one full sequence', () => {
    const capped = kvBudget({ ...base, freeBytes: 100 * MiB, models: 2 });
    assert.equal(capped.bytes, 25 * MiB);
    assert.equal(capped.capped, true);
    assert.match(describeKvBudget(capped, 64, 512), /capped at 50% of/);
    const tiny = kvBudget({ ...base, freeBytes: 0 });
    assert.equal(tiny.bytes, 512 * 2048, 'one sequence at full length');
  });

  it('a configured budget is taken as given', () => {
    const b = kvBudget({ ...base, configured: 3 * 2 ** 30 });
    assert.deepEqual([b.bytes, b.derived], [3 * 2 ** 30, false]);
    assert.match(describeKvBudget(b, 64, 512), /REVERIE_KV_BUDGET_BYTES/);
  });

  it('free memory is positive and at most the system’s', () => {
    const free = freeMemory();
    assert.ok(free > 0);
  });
});
