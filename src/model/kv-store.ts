import { halfToFloatTable, toHalf } from './float-bits.ts';

/**
 * Per-sequence key/value storage owned by the runner: for each layer, keys and values of one
 * sequence live in an array laid out [kvHeads, capacity, headDim] (float32, or float16 bits: see
 * KvDtype) that grows one block of
 * GROWTH_POSITIONS at a time: the engine charges its KV budget in blocks of the same size, so the
 * bytes held never exceed what the budget admitted (doubling could hold twice as much). The copy a
 * growth costs is 1/16 of the gather every step already does.
 * Gathering a batch's past is then one contiguous copy per (row, layer, head), and appending a
 * step's new keys is one copy per (row, layer, head) too.
 *
 * A sequence may start from a shared prefix (`share`): it then reads its first positions from
 * another sequence's buffers, without a copy, and keeps only what follows in its own. Buffers are
 * append-only while shared, so the prefix never changes under its readers (a truncate of a shared
 * sequence moves it to fresh buffers first).
 */
export interface KvShape {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
}

/**
 * How KV values are stored: `float32` as the graph computes them, or `float16` (IEEE half bits),
 * half the bytes per position at the cost of a conversion on every append and gather.
 */
export type KvDtype = 'float32' | 'float16';

type KvArray = Float32Array | Uint16Array;

/** Reads and writes one storage precision; the graph's tensors are always float32. */
interface KvCodec {
  bytesPerValue: number;
  alloc(n: number): KvArray;
  /** dst[to..to+n) = src[from..from+n), decoded. */
  read(src: KvArray, from: number, n: number, dst: Float32Array, to: number): void;
  /** dst[to..to+n) = src[from..from+n), encoded. */
  write(src: Float32Array, from: number, n: number, dst: KvArray, to: number): void;
}

const FLOAT32: KvCodec = {
  bytesPerValue: 4,
  alloc: (n) => new Float32Array(n),
  read: (src, from, n, dst, to) => dst.set((src as Float32Array).subarray(from, from + n), to),
  write: (src, from, n, dst, to) => (dst as Float32Array).set(src.subarray(from, from + n), to),
};

const FLOAT16: KvCodec = {
  bytesPerValue: 2,
  alloc: (n) => new Uint16Array(n),
  read: (src, from, n, dst, to) => {
    const table = halfToFloatTable();
    for (let i = 0; i < n; i++) dst[to + i] = table[src[from + i]!]!;
  },
  write: (src, from, n, dst, to) => {
    for (let i = 0; i < n; i++) dst[to + i] = toHalf(src[from + i]!);
  },
};

/** KV bytes of one position: keys and values of every layer at `dtype`. */
export function kvBytesPerPosition(shape: KvShape, dtype: KvDtype = 'float32'): number {
  return 2 * shape.numLayers * shape.numKvHeads * shape.headDim * (dtype === 'float16' ? 2 : 4);
}

interface Buffers {
  capacity: number;
  keys: KvArray[];
  values: KvArray[];
}

interface SequenceKv {
  /** Total positions, shared prefix included. */
  length: number;
  /** Own buffers: positions [prefixLength, length) at offsets [0, length − prefixLength). */
  own: Buffers;
  /** A prefix read from another sequence's buffers, or null. */
  prefix: Buffers | null;
  prefixLength: number;
  /** Another sequence reads a prefix of `own`: never overwrite it in place. */
  sharedOut: boolean;
}

/** Buffers grow in whole blocks of this many positions (the engine's KV_BLOCK). */
export const GROWTH_POSITIONS = 16;
const MIN_CAPACITY = GROWTH_POSITIONS;

export class KvStore {
  readonly #shape: KvShape;
  readonly #codec: KvCodec;
  readonly #seqs = new Map<number, SequenceKv>();

  constructor(shape: KvShape, dtype: KvDtype = 'float32') {
    this.#shape = shape;
    this.#codec = dtype === 'float16' ? FLOAT16 : FLOAT32;
  }

  /** Number of cached positions of `seq` (0 when unknown). */
  length(seq: number): number {
    return this.#seqs.get(seq)?.length ?? 0;
  }

  /** Bytes of the buffers live sequences hold, each shared buffer counted once. */
  bytes(): number {
    const { numLayers, numKvHeads, headDim } = this.#shape;
    const seen = new Set<Buffers>();
    for (const s of this.#seqs.values()) {
      seen.add(s.own);
      if (s.prefix) seen.add(s.prefix);
    }
    let total = 0;
    for (const b of seen)
      total += 2 * numLayers * numKvHeads * b.capacity * headDim * this.#codec.bytesPerValue;
    return total;
  }

  free(seq: number): void {
    this.#seqs.delete(seq);
  }

  /** Drops positions from `length` on (e.g. to recompute them). */
  truncate(seq: number, length: number): void {
    const s = this.#seqs.get(seq);
    if (!s || length >= s.length) return;
    if (s.sharedOut || length < s.prefixLength) {
      // Readers (or our own prefix) must keep their positions: continue in a private copy.
      const fresh = this.#copyOut(s, length);
      this.#seqs.set(seq, fresh);
      return;
    }
    s.length = Math.max(0, length);
  }

  /** Copies the first `length` positions of `src` into a new sequence `dst`. */
  fork(src: number, dst: number, length = this.length(src)): void {
    const s = this.#seqs.get(src);
    if (!s) throw new Error(`kv: unknown sequence ${src}`);
    this.#seqs.set(dst, this.#copyOut(s, length));
  }

  /**
   * Starts `dst` from the first `length` positions of `src` without copying them (n > 1 samples
   * sharing their prompt, prefix-cache hits). Falls back to a copy when `src` itself reads a
   * shared prefix that does not cover `length`.
   */
  share(src: number, dst: number, length = this.length(src)): void {
    const s = this.#seqs.get(src);
    if (!s) throw new Error(`kv: unknown sequence ${src}`);
    if (length > s.length) throw new Error(`kv: sequence ${src} has ${s.length} positions, not ${length}`);
    let prefix: Buffers;
    if (s.prefix && length <= s.prefixLength) prefix = s.prefix;
    else if (!s.prefix) {
      prefix = s.own;
      s.sharedOut = true;
    } else {
      this.fork(src, dst, length);
      return;
    }
    this.#seqs.set(dst, {
      length,
      own: this.#alloc(MIN_CAPACITY),
      prefix,
      prefixLength: length,
      sharedOut: false,
    });
  }

  /**
   * Writes row `row`'s past into batch tensors `keys[l]`/`values[l]` laid out [B, kvH, P, hd].
   * Positions past the sequence's length are left as they are: the attention mask hides them.
   */
  gather(seq: number, row: number, pastLen: number, keys: Float32Array[], values: Float32Array[]): void {
    const s = this.#seqs.get(seq);
    if (!s || s.length === 0) return;
    const { numLayers, numKvHeads, headDim } = this.#shape;
    const { read } = this.#codec;
    const pre = s.prefix ? s.prefixLength : 0;
    for (let l = 0; l < numLayers; l++) {
      for (let h = 0; h < numKvHeads; h++) {
        const to = (row * numKvHeads + h) * pastLen * headDim;
        if (s.prefix) {
          const from = h * s.prefix.capacity * headDim;
          read(s.prefix.keys[l]!, from, pre * headDim, keys[l]!, to);
          read(s.prefix.values[l]!, from, pre * headDim, values[l]!, to);
        }
        const from = h * s.own.capacity * headDim;
        const n = (s.length - pre) * headDim;
        read(s.own.keys[l]!, from, n, keys[l]!, to + pre * headDim);
        read(s.own.values[l]!, from, n, values[l]!, to + pre * headDim);
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
    let s = this.#seqs.get(seq);
    if (!s) {
      s = {
        length: 0,
        own: this.#alloc(Math.max(MIN_CAPACITY, count)),
        prefix: null,
        prefixLength: 0,
        sharedOut: false,
      };
      this.#seqs.set(seq, s);
    }
    const pre = s.prefix ? s.prefixLength : 0;
    this.#ensure(s, s.length - pre + count);
    const { numLayers, numKvHeads, headDim } = this.#shape;
    const { write } = this.#codec;
    for (let l = 0; l < numLayers; l++) {
      for (let h = 0; h < numKvHeads; h++) {
        const from = (row * numKvHeads + h) * stepLen * headDim;
        const to = (h * s.own.capacity + s.length - pre) * headDim;
        write(keys[l]!, from, count * headDim, s.own.keys[l]!, to);
        write(values[l]!, from, count * headDim, s.own.values[l]!, to);
      }
    }
    s.length += count;
  }

  #alloc(capacity: number): Buffers {
    const { numLayers, numKvHeads, headDim } = this.#shape;
    const make = () =>
      Array.from({ length: numLayers }, () => this.#codec.alloc(numKvHeads * capacity * headDim));
    return { capacity, keys: make(), values: make() };
  }

  /** A private sequence holding the first `length` positions of `s` in its own buffers. */
  #copyOut(s: SequenceKv, length: number): SequenceKv {
    const own = this.#alloc(Math.max(MIN_CAPACITY, length));
    const { numLayers, numKvHeads, headDim } = this.#shape;
    const pre = s.prefix ? Math.min(s.prefixLength, length) : 0;
    for (let l = 0; l < numLayers; l++) {
      for (let h = 0; h < numKvHeads; h++) {
        const to = h * own.capacity * headDim;
        if (s.prefix && pre > 0) {
          const from = h * s.prefix.capacity * headDim;
          own.keys[l]!.set(s.prefix.keys[l]!.subarray(from, from + pre * headDim), to);
          own.values[l]!.set(s.prefix.values[l]!.subarray(from, from + pre * headDim), to);
        }
        const rest = length - pre;
        const from = h * s.own.capacity * headDim;
        own.keys[l]!.set(s.own.keys[l]!.subarray(from, from + rest * headDim), to + pre * headDim);
        own.values[l]!.set(s.own.values[l]!.subarray(from, from + rest * headDim), to + pre * headDim);
      }
    }
    return { length, own, prefix: null, prefixLength: 0, sharedOut: false };
  }

  /** Grows `s.own` to hold `needed` positions (a new buffer: readers of the old one keep it). */
  #ensure(s: SequenceKv, needed: number): void {
    if (needed <= s.own.capacity) return;
    const capacity = Math.ceil(needed / GROWTH_POSITIONS) * GROWTH_POSITIONS;
    const next = this.#alloc(capacity);
    const { numLayers, numKvHeads, headDim } = this.#shape;
    const used = s.length - (s.prefix ? s.prefixLength : 0);
    for (let l = 0; l < numLayers; l++) {
      for (let h = 0; h < numKvHeads; h++) {
        const from = h * s.own.capacity * headDim;
        next.keys[l]!.set(s.own.keys[l]!.subarray(from, from + used * headDim), h * capacity * headDim);
        next.values[l]!.set(s.own.values[l]!.subarray(from, from + used * headDim), h * capacity * headDim);
      }
    }
    s.own = next;
    s.sharedOut = false;
  }
}
