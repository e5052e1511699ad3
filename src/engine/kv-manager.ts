/**
 * Pure bookkeeping of the KV budget, in blocks of the runner's `kvBlockSize` positions. It never touches tensors:
 * the scheduler asks it whether a sequence may grow, and the runner's store holds the bytes.
 * Holders are sequences (ids ≥ 0) and prefix-cache entries (negative ids).
 */
export class KvManager {
  readonly capacityBlocks: number;
  #used = 0;
  /** Of `#used`, blocks held by prefix-cache entries (evicted on demand, so reclaimable). */
  #cached = 0;
  readonly #held = new Map<number, number>();

  constructor(
    capacityBlocks: number,
    /** Positions per block. */
    readonly blockSize: number,
  ) {
    this.capacityBlocks = capacityBlocks;
  }

  /** Blocks that hold `positions`. */
  blocksFor(positions: number): number {
    return Math.ceil(positions / this.blockSize);
  }

  get usedBlocks(): number {
    return this.#used;
  }

  /** Blocks held by prefix-cache entries. */
  get cachedBlocks(): number {
    return this.#cached;
  }

  get freeBlocks(): number {
    return this.capacityBlocks - this.#used;
  }

  blocksOf(holder: number): number {
    return this.#held.get(holder) ?? 0;
  }

  /** Blocks `holder` must add to hold `positions`. */
  missing(holder: number, positions: number): number {
    return Math.max(0, this.blocksFor(positions) - this.blocksOf(holder));
  }

  /** Grows `holder` to cover `positions` if the budget allows; false (and no change) otherwise. */
  reserve(holder: number, positions: number): boolean {
    const add = this.missing(holder, positions);
    if (add > this.freeBlocks) return false;
    if (add > 0) {
      this.#held.set(holder, this.blocksOf(holder) + add);
      this.#used += add;
      if (holder < 0) this.#cached += add;
    }
    return true;
  }

  release(holder: number): void {
    this.#used -= this.blocksOf(holder);
    if (holder < 0) this.#cached -= this.blocksOf(holder);
    this.#held.delete(holder);
  }
}
