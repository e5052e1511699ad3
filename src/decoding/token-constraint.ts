/**
 * A per-choice constraint on the answer's tokens (structured outputs). The answer decoder asks it
 * which tokens the next position may hold, samples among those only, then tells it the token it
 * chose. It never sees thinking positions: the constraint starts with the answer, after
 * `</think>`, whatever the thinking mode; while the model may still open a think block itself
 * (no visible answer text yet) the decoder also allows the think-start marker, which the
 * constraint never sees either. The row stays an ordinary row of the batch; the mask is
 * applied to its logits on the CPU before sampling.
 */
export interface TokenConstraint {
  /**
   * The next token's allowed set as a bitmask over the logits' ids: bit `id & 31` of word
   * `id >> 5` is set when `id` is allowed. Valid until the next call, which rewrites it (so the
   * decoder may set bits in it for this step, see `allowToken`).
   */
  nextTokenBitmask(): Int32Array;
  /** Advances past the token the decoder chose; false when the grammar does not allow it. */
  accept(id: number): boolean;
  /** The grammar accepted a stop token: the output is complete. */
  readonly terminated: boolean;
  /** Frees what the constraint holds; idempotent. */
  dispose(): void;
}

/**
 * Sets every id the bitmask forbids to −∞ in `logits[0, n)`, 32 ids at a time (a word of all
 * ones, the common case inside free text, costs one comparison).
 */
export function applyTokenBitmask(logits: Float32Array, bitmask: Int32Array, n: number): void {
  const words = Math.ceil(n / 32);
  for (let w = 0; w < words; w++) {
    const word = bitmask[w] ?? 0;
    if (word === -1) continue;
    const base = w << 5;
    const end = Math.min(base + 32, n);
    for (let id = base; id < end; id++) if (((word >>> (id & 31)) & 1) === 0) logits[id] = -Infinity;
  }
}

/** Lets `id` through a bitmask (sets its bit). */
export function allowToken(bitmask: Int32Array, id: number): void {
  bitmask[id >> 5] |= 1 << (id & 31);
}

/**
 * Whether the bitmask allows some id in `[0, n)` besides `except` (a handful of ids: the stop
 * tokens). False when the grammar can only end, or, with no stop token left to end it, allows
 * nothing at all.
 */
export function allowsOtherThan(bitmask: Int32Array, n: number, except: readonly number[]): boolean {
  const words = Math.ceil(n / 32);
  for (let w = 0; w < words; w++) {
    let word = bitmask[w] ?? 0;
    if (word === 0) continue;
    const base = w << 5;
    for (const id of except) if (id >> 5 === w) word &= ~(1 << (id & 31));
    if (base + 32 > n) word &= (1 << (n - base)) - 1;
    if (word !== 0) return true;
  }
  return false;
}
