import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KvStore } from '../../src/model/kv-store.ts';

const shape = { numLayers: 1, numKvHeads: 2, headDim: 2 };

/** Step output [1, kvH, count, hd] whose values encode (head, position, marker). */
function stepOut(start: number, count: number, marker: number): Float32Array[] {
  const a = new Float32Array(2 * count * 2);
  for (let h = 0; h < 2; h++)
    for (let p = 0; p < count; p++)
      for (let d = 0; d < 2; d++) a[(h * count + p) * 2 + d] = marker * 1000 + h * 100 + start + p + d / 10;
  return [a];
}

function past(kv: KvStore, seq: number): number[] {
  const n = kv.length(seq);
  const k = [new Float32Array(2 * n * 2)];
  kv.gather(seq, 0, n, k, [new Float32Array(2 * n * 2)]);
  return [...k[0]!];
}

describe('KV store', () => {
  it('a shared prefix reads like a copy and survives the source growing, truncating and being freed', () => {
    const kv = new KvStore(shape);
    kv.append(1, 0, 5, 5, stepOut(0, 5, 1), stepOut(0, 5, 1));
    kv.fork(1, 2, 5);
    kv.share(1, 3, 5);
    assert.deepEqual(past(kv, 3), past(kv, 2));
    const bytesShared = kv.bytes();
    // Each continues on its own; the source grows past its capacity, then truncates and rewrites.
    kv.append(3, 0, 1, 1, stepOut(5, 1, 3), stepOut(5, 1, 3));
    kv.append(2, 0, 1, 1, stepOut(5, 1, 3), stepOut(5, 1, 3));
    for (let i = 0; i < 20; i++) kv.append(1, 0, 1, 1, stepOut(5 + i, 1, 9), stepOut(5 + i, 1, 9));
    kv.truncate(1, 2);
    kv.append(1, 0, 3, 3, stepOut(2, 3, 7), stepOut(2, 3, 7));
    kv.free(1);
    assert.deepEqual(past(kv, 3), past(kv, 2));
    // 1 is gone, but the buffer 3 reads from is still held and counted.
    assert.equal(kv.bytes(), 3 * (2 * 1 * 2 * 16 * 2 * 4));
    assert.equal(kv.length(3), 6);
    // Three buffers of 16 positions (1's, 2's copy, 3's own tail): 1's, which 3 reads, counted once.
    assert.equal(bytesShared, 3 * (2 * 1 * 2 * 16 * 2 * 4));
  });

  it('sharing from a sequence that itself reads a prefix works within and beyond that prefix', () => {
    const kv = new KvStore(shape);
    kv.append(1, 0, 4, 4, stepOut(0, 4, 1), stepOut(0, 4, 1));
    kv.share(1, 2, 4);
    kv.append(2, 0, 2, 2, stepOut(4, 2, 2), stepOut(4, 2, 2));
    kv.share(2, 3, 3); // within 2's prefix
    kv.share(2, 4, 6); // beyond it: falls back to a copy
    kv.fork(2, 5, 6);
    assert.deepEqual(past(kv, 4), past(kv, 5));
    assert.deepEqual(
      past(kv, 3),
      past(kv, 5).filter((_, i) => i % 12 < 6),
    );
  });
});
