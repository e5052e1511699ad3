/**
 * Per-sequence key/value storage owned by the runner: for each layer, keys and values of one
 * sequence live in a Float32Array laid out [kvHeads, capacity, headDim] that grows by doubling.
 * Gathering a batch's past is then one contiguous copy per (row, layer, head), and appending a
 * step's new keys is one copy per (row, layer, head) too.
 */
export interface KvShape {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
}

interface SequenceKv {
  length: number;
  capacity: number;
  keys: Float32Array[];
  values: Float32Array[];
}

const MIN_CAPACITY = 16;

export class KvStore {
  readonly #shape: KvShape;
  readonly #seqs = new Map<number, SequenceKv>();

  constructor(shape: KvShape) {
    this.#shape = shape;
  }

  /** Number of cached positions of `seq` (0 when unknown). */
  length(seq: number): number {
    return this.#seqs.get(seq)?.length ?? 0;
  }

  has(seq: number): boolean {
    return this.#seqs.has(seq);
  }

  /** Bytes held by all sequences (capacity, not just length). */
  bytes(): number {
    const { numLayers, numKvHeads, headDim } = this.#shape;
    let total = 0;
    for (const s of this.#seqs.values()) total += 2 * numLayers * numKvHeads * s.capacity * headDim * 4;
    return total;
  }

  /** Number of live sequences. */
  size(): number {
    return this.#seqs.size;
  }

  free(seq: number): void {
    this.#seqs.delete(seq);
  }

  /** Drops positions from `length` on (e.g. to recompute them). */
  truncate(seq: number, length: number): void {
    const s = this.#seqs.get(seq);
    if (s && length < s.length) s.length = Math.max(0, length);
  }

  /** Copies the first `length` positions of `src` into a new sequence `dst` (e.g. n > 1 samples). */
  fork(src: number, dst: number, length = this.length(src)): void {
    const s = this.#seqs.get(src);
    if (!s) throw new Error(`kv: unknown sequence ${src}`);
    const copy = this.#ensure(dst, length);
    const { numLayers, numKvHeads, headDim } = this.#shape;
    for (let l = 0; l < numLayers; l++) {
      for (let h = 0; h < numKvHeads; h++) {
        const from = h * s.capacity * headDim;
        const to = h * copy.capacity * headDim;
        copy.keys[l]!.set(s.keys[l]!.subarray(from, from + length * headDim), to);
        copy.values[l]!.set(s.values[l]!.subarray(from, from + length * headDim), to);
      }
    }
    copy.length = length;
  }

  /**
   * Writes row `row`'s past into batch tensors `keys[l]`/`values[l]` laid out [B, kvH, P, hd].
   * Positions past the sequence's length are left as they are: the attention mask hides them.
   */
  gather(seq: number, row: number, pastLen: number, keys: Float32Array[], values: Float32Array[]): void {
    const s = this.#seqs.get(seq);
    if (!s || s.length === 0) return;
    const { numLayers, numKvHeads, headDim } = this.#shape;
    const n = s.length * headDim;
    for (let l = 0; l < numLayers; l++) {
      for (let h = 0; h < numKvHeads; h++) {
        const from = h * s.capacity * headDim;
        const to = (row * numKvHeads + h) * pastLen * headDim;
        keys[l]!.set(s.keys[l]!.subarray(from, from + n), to);
        values[l]!.set(s.values[l]!.subarray(from, from + n), to);
      }
    }
  }

  /** Appends `count` new positions of row `row` from step outputs laid out [B, kvH, S, hd]. */
  append(
    seq: number,
    row: number,
    stepLen: number,
    count: number,
    keys: ArrayLike<Float32Array>,
    values: ArrayLike<Float32Array>,
  ): void {
    const s = this.#ensure(seq, this.length(seq) + count);
    const { numLayers, numKvHeads, headDim } = this.#shape;
    for (let l = 0; l < numLayers; l++) {
      for (let h = 0; h < numKvHeads; h++) {
        const from = (row * numKvHeads + h) * stepLen * headDim;
        const to = (h * s.capacity + s.length) * headDim;
        s.keys[l]!.set(keys[l]!.subarray(from, from + count * headDim), to);
        s.values[l]!.set(values[l]!.subarray(from, from + count * headDim), to);
      }
    }
    s.length += count;
  }

  #ensure(seq: number, needed: number): SequenceKv {
    const { numLayers, numKvHeads, headDim } = this.#shape;
    let s = this.#seqs.get(seq);
    if (!s) {
      const capacity = Math.max(MIN_CAPACITY, needed);
      s = {
        length: 0,
        capacity,
        keys: Array.from({ length: numLayers }, () => new Float32Array(numKvHeads * capacity * headDim)),
        values: Array.from({ length: numLayers }, () => new Float32Array(numKvHeads * capacity * headDim)),
      };
      this.#seqs.set(seq, s);
      return s;
    }
    if (needed <= s.capacity) return s;
    let capacity = s.capacity;
    while (capacity < needed) capacity *= 2;
    const grow = (old: Float32Array) => {
      const next = new Float32Array(numKvHeads * capacity * headDim);
      for (let h = 0; h < numKvHeads; h++) {
        next.set(
          old.subarray(h * s!.capacity * headDim, (h * s!.capacity + s!.length) * headDim),
          h * capacity * headDim,
        );
      }
      return next;
    };
    s.keys = s.keys.map(grow);
    s.values = s.values.map(grow);
    s.capacity = capacity;
    return s;
  }
}
