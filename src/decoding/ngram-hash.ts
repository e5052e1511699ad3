/**
 * 64-bit context keys for the n-gram store: two 32-bit murmur3-style hashes with different seeds
 * over the context's ids. Contexts are stored by key, not by their ids, so a context of any order
 * costs 8 bytes; two contexts of one order collide with probability ≈ C² / 2⁶⁵ (≈ 3·10⁻⁶ for
 * ten million contexts).
 */

const SEED_HI = 0x9747b28c;
const SEED_LO = 0x5bd1e995;

function murmur(tokens: ArrayLike<number>, start: number, end: number, seed: number): number {
  let h = seed;
  for (let i = start; i < end; i++) {
    let k = Math.imul(tokens[i], 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= end - start;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The key of the context tokens[start..end): [high word, low word]. */
export function contextKey(tokens: ArrayLike<number>, start: number, end: number): [number, number] {
  return [murmur(tokens, start, end, SEED_HI), murmur(tokens, start, end, SEED_LO)];
}
