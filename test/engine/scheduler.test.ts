import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KvManager } from '../../src/engine/kv-manager.ts';
import { PrefixCache } from '../../src/engine/prefix-cache.ts';
import { Scheduler, type SchedulerLimits } from '../../src/engine/scheduler.ts';
import { Sequence } from '../../src/engine/sequence.ts';

/** Positions per KV block, as the ONNX runner reports. */
const KV_BLOCK = 16;

/** A scheduler over blocks of KV_BLOCK positions. */
const scheduler = (limits: Omit<SchedulerLimits, 'blockSize'>) =>
  new Scheduler({ blockSize: KV_BLOCK, ...limits });

/** Scheduler tests with a hand-made cache configuration and no model (vLLM's approach). */

let nextId = 1;
function seq(promptLen: number, fill = 7): Sequence {
  const id = nextId++;
  return new Sequence(id, `r${id}`, id, new Int32Array(promptLen).fill(fill), null);
}

/** Pretends the step ran: advances and, for rows that completed their inputs, feeds one more token. */
function run(s: Scheduler) {
  const batch = s.schedule();
  s.advance(batch);
  for (const row of batch.rows) {
    if (row.seq.pending === 0) row.seq.generated.push({ ids: Int32Array.of(1), weights: Float32Array.of(1) });
  }
  return batch;
}

describe('scheduler', () => {
  it('chunks prompts by the token budget and schedules decode rows first', () => {
    const s = scheduler({ maxNumSeqs: 8, maxBatchedTokens: 10, kvCapacityBlocks: 100, prefixCache: false });
    const a = seq(4);
    const b = seq(25);
    s.add(a);
    s.add(b);
    let batch = run(s);
    assert.deepEqual(
      batch.rows.map((r) => [r.seq.id, r.start, r.count]),
      [
        [a.id, 0, 4],
        [b.id, 0, 6],
      ],
    );
    batch = run(s);
    // a decodes one position first, b gets the rest of the budget.
    assert.deepEqual(
      batch.rows.map((r) => [r.seq.id, r.start, r.count]),
      [
        [a.id, 4, 1],
        [b.id, 6, 9],
      ],
    );
  });

  it('respects max_num_seqs', () => {
    const s = scheduler({ maxNumSeqs: 2, maxBatchedTokens: 100, kvCapacityBlocks: 100, prefixCache: false });
    for (let i = 0; i < 3; i++) s.add(seq(3));
    const batch = run(s);
    assert.equal(batch.rows.length, 2);
    assert.equal(s.waiting.length, 1);
  });

  it('preempts the newest running sequence when KV runs out, and it recomputes from position 0', () => {
    // 3 blocks: two sequences of 16 positions each hold one block, growth needs more.
    const s = scheduler({ maxNumSeqs: 8, maxBatchedTokens: 64, kvCapacityBlocks: 3, prefixCache: false });
    const a = seq(KV_BLOCK - 1);
    const b = seq(KV_BLOCK - 1);
    s.add(a);
    s.add(b);
    run(s); // both admitted: a holds 1 block (16 positions incl. the next), b holds 1
    // Grow both past a block boundary: a gets the third block, b must be preempted.
    for (let i = 0; i < 3; i++) run(s);
    assert.ok(s.preemptions >= 1, 'a preemption happened');
    assert.equal(b.status, 'waiting');
    assert.equal(b.computed, 0);
    assert.ok(b.generated.length >= 1, 'the preempted sequence keeps its fed inputs for recompute');
    assert.ok(s.kv.usedBlocks <= 3);
  });

  it('rejects a sequence that can never fit the budget', () => {
    const s = scheduler({ maxNumSeqs: 8, maxBatchedTokens: 64, kvCapacityBlocks: 1, prefixCache: false });
    const big = seq(40);
    s.add(big);
    const batch = s.schedule();
    assert.deepEqual(batch.rejected, [big]);
  });

  it('finishing frees the KV blocks', () => {
    const s = scheduler({ maxNumSeqs: 8, maxBatchedTokens: 64, kvCapacityBlocks: 10, prefixCache: false });
    const a = seq(20);
    s.add(a);
    run(s);
    assert.ok(s.kv.usedBlocks > 0);
    s.finish(a);
    assert.equal(s.kv.usedBlocks, 0);
    assert.deepEqual(s.takeFrees(), [a.id]);
  });

  it('prefix cache: a repeated prompt reuses whole blocks, never the last position', () => {
    const s = scheduler({ maxNumSeqs: 8, maxBatchedTokens: 256, kvCapacityBlocks: 100, prefixCache: true });
    const a = seq(40, 3);
    s.add(a);
    run(s);
    const copy = s.cachePrompt(a);
    assert.deepEqual(copy, { from: a.id, to: copy!.to, length: 32 });
    const b = seq(40, 3);
    s.add(b);
    const batch = s.schedule();
    assert.deepEqual(batch.copies, [{ from: copy!.to, to: b.id, length: 32 }]);
    const row = batch.rows.find((r) => r.seq === b)!;
    assert.deepEqual([row.start, row.count], [32, 8]);
    // A prompt that is exactly the cached length still computes its last block's last position itself.
    const c = seq(32, 3);
    s.add(c);
    const rowC = s.schedule().rows.find((r) => r.seq === c)!;
    assert.equal(rowC.start, 16);
  });

  it('prefix cache: beyond its share of the budget it evicts its oldest entries', () => {
    const s = scheduler({
      maxNumSeqs: 8,
      maxBatchedTokens: 256,
      kvCapacityBlocks: 100,
      prefixCache: true,
      prefixCacheBlocks: 4,
    });
    const entries = [1, 2, 3].map((fill) => {
      const a = seq(2 * KV_BLOCK + 1, fill);
      s.add(a);
      run(s);
      const copy = s.cachePrompt(a)!;
      s.finish(a);
      return copy.to;
    });
    assert.equal(s.kv.cachedBlocks, 4, 'two entries of two blocks');
    assert.equal(s.prefix.size, 2);
    assert.ok(s.takeFrees().includes(entries[0]!), 'the oldest entry was evicted and its KV freed');
    // An entry larger than the whole share is not kept, and costs the others nothing.
    const big = seq(5 * KV_BLOCK + 1, 9);
    s.add(big);
    run(s);
    assert.equal(s.cachePrompt(big), null);
    assert.equal(s.prefix.size, 2);
  });
});

describe('scheduler: paused sequences (flow control)', () => {
  const limits = { maxNumSeqs: 8, maxBatchedTokens: 64, prefixCache: false };

  it('a paused sequence leaves the batches and the running set but keeps its KV; resume picks up where it was', () => {
    const s = scheduler({ ...limits, kvCapacityBlocks: 10 });
    const a = seq(5);
    const b = seq(5);
    s.add(a);
    s.add(b);
    run(s);
    const held = s.kv.blocksOf(a.id);
    assert.ok(held > 0);
    s.pause(a);
    assert.equal(a.status, 'paused');
    assert.deepEqual(s.running, [b]);
    assert.deepEqual(s.paused, [a]);
    const computed = a.computed;
    for (let i = 0; i < 3; i++) {
      const batch = run(s);
      assert.ok(!batch.rows.some((r) => r.seq === a), 'not scheduled while paused');
    }
    assert.equal(s.kv.blocksOf(a.id), held, 'KV kept');
    assert.equal(a.computed, computed);
    s.finish(b);
    assert.equal(s.hasWork(), false, 'paused sequences alone are no work');
    s.resume(a);
    assert.equal(a.status, 'running');
    const batch = run(s);
    assert.deepEqual(
      batch.rows.map((r) => [r.seq.id, r.start, r.count]),
      [[a.id, computed, 1]],
      'one decode position, no recompute',
    );
  });

  it('a waiting sequence that needs the room takes a paused one’s KV; the paused one recomputes on resume', () => {
    // 2 blocks: a holds one, paused; c needs two.
    const s = scheduler({ ...limits, kvCapacityBlocks: 2 });
    const a = seq(5);
    s.add(a);
    run(s);
    s.pause(a);
    const c = seq(20);
    s.add(c);
    const batch = run(s);
    assert.ok(
      batch.rows.some((r) => r.seq === c),
      'c admitted',
    );
    assert.ok(batch.frees.includes(a.id), "a's KV freed in the same step");
    assert.ok(batch.preempted.includes(a));
    assert.equal(a.status, 'paused', 'still paused');
    assert.equal(a.computed, 0);
    assert.equal(s.kv.blocksOf(a.id), 0);
    s.finish(c);
    s.resume(a);
    assert.equal(a.status, 'waiting', 'without KV it goes back through admission');
    const length = a.length;
    const again = run(s);
    const row = again.rows.find((r) => r.seq === a)!;
    assert.deepEqual([row.start, row.count], [0, length], 'recomputes its whole history');
  });

  it('finishing a paused sequence frees it; pausing a finished one does nothing', () => {
    const s = scheduler({ ...limits, kvCapacityBlocks: 10 });
    const a = seq(5);
    s.add(a);
    run(s);
    s.pause(a);
    s.finish(a);
    assert.deepEqual(s.paused, []);
    assert.equal(s.kv.usedBlocks, 0);
    s.pause(a);
    s.resume(a);
    assert.equal(a.status, 'finished');
    assert.equal(s.hasWork(), false);
  });
});

describe('KV manager and prefix cache', () => {
  it('reserves all-or-nothing within the budget', () => {
    const kv = new KvManager(4, KV_BLOCK);
    assert.ok(kv.reserve(1, 40)); // 3 blocks
    assert.ok(!kv.reserve(2, 20)); // needs 2, 1 free
    assert.equal(kv.blocksOf(2), 0);
    assert.ok(kv.reserve(2, 16));
    kv.release(1);
    assert.equal(kv.usedBlocks, 1);
  });

  it('keys depend on every earlier token and evict least recently used first', () => {
    const cache = new PrefixCache(KV_BLOCK);
    const p1 = Int32Array.from({ length: 32 }, (_, i) => i);
    const p2 = Int32Array.from(p1);
    p2[0] = 99; // differs only in the first block: the second block's key must differ too
    const e1 = cache.insert(p1, 32)!;
    cache.insert(p2, 32);
    assert.equal(cache.lookup(Int32Array.from([...p1, 5]), 33)?.id, e1.id);
    // p1 was just used: the oldest is now p2's entry.
    assert.notEqual(cache.evictOldest()!.id, e1.id);
    assert.equal(cache.lookup(Int32Array.from([...p2, 5]), 33), null);
  });
});
