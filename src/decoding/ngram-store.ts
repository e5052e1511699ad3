import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { writeFileAtomic } from '../model/atomic-write.ts';
import { contextKey } from './ngram-hash.ts';

/**
 * N-gram counts (n = 2..6) in the tokenizer's ids, for superposed decoding.
 *
 * Per order n, contexts (the n − 1 preceding ids) are kept as sorted 64-bit keys (ngram-hash.ts)
 * with their total count and the start of their run of continuations; each run lists the next
 * ids in ascending order with their counts. A lookup is two binary searches.
 *
 * File `ngram.bin`, little-endian, every array 8-byte aligned so loading is a read plus views:
 *
 *     magic "RVNGRAM\0" · u32 version (1) · u32 minOrder · u32 maxOrder · u32 vocabSize
 *     per order: u32 contexts C · u32 entries E
 *     per order: u32 keyHi[C] · u32 keyLo[C] · u32 total[C] · u32 start[C + 1] · u32 next[E] · u32 count[E]
 */

/** One order's arrays. */
export interface OrderTable {
  keyHi: Uint32Array;
  keyLo: Uint32Array;
  total: Uint32Array;
  start: Uint32Array;
  next: Uint32Array;
  count: Uint32Array;
}

const MAGIC = 'RVNGRAM\0';
const VERSION = 1;

/** Bytes up to the next multiple of 8. */
const align8 = (n: number): number => (n + 7) & ~7;

/** The store; build with buildNgramStore (ngram-build.ts), or load a saved one. */
export class NgramStore {
  readonly minOrder: number;
  readonly maxOrder: number;
  readonly vocabSize: number;
  readonly #tables: OrderTable[];

  /** `tables[i]` holds order minOrder + i. */
  constructor(minOrder: number, maxOrder: number, vocabSize: number, tables: OrderTable[]) {
    if (tables.length !== maxOrder - minOrder + 1)
      throw new Error('ngram store: one table per order expected');
    this.minOrder = minOrder;
    this.maxOrder = maxOrder;
    this.vocabSize = vocabSize;
    this.#tables = tables;
  }

  /** The arrays of order n. */
  table(n: number): OrderTable {
    const t = this.#tables[n - this.minOrder];
    if (!t) throw new RangeError(`ngram store holds orders ${this.minOrder}..${this.maxOrder}, not ${n}`);
    return t;
  }

  /** Index of the order-n context tokens[end − n + 1 .. end), or −1 if unseen or too short. */
  findContext(n: number, tokens: ArrayLike<number>, end: number): number {
    const start = end - (n - 1);
    if (start < 0) return -1;
    const t = this.table(n);
    const [hi, lo] = contextKey(tokens, start, end);
    let a = 0;
    let b = t.keyHi.length - 1;
    while (a <= b) {
      const m = (a + b) >>> 1;
      const mh = t.keyHi[m];
      const ml = t.keyLo[m];
      if (mh < hi || (mh === hi && ml < lo)) a = m + 1;
      else if (mh > hi || ml > lo) b = m - 1;
      else return m;
    }
    return -1;
  }

  /** How often context `ctx` (an index from findContext) occurs with any continuation. */
  contextTotal(n: number, ctx: number): number {
    return ctx < 0 ? 0 : this.table(n).total[ctx];
  }

  /** How often context `ctx` is followed by `next`. */
  countNext(n: number, ctx: number, next: number): number {
    if (ctx < 0) return 0;
    const t = this.table(n);
    let a = t.start[ctx];
    let b = t.start[ctx + 1] - 1;
    while (a <= b) {
      const m = (a + b) >>> 1;
      if (t.next[m] < next) a = m + 1;
      else if (t.next[m] > next) b = m - 1;
      else return t.count[m];
    }
    return 0;
  }

  /** Count of one complete n-gram (its order is its length). */
  /**
   * Superposed Decoding's n-gram estimate for each candidate v after `context`:
   *
   *     ng(v) = Σ_{n=2..6} λ_n · count(ctx_{n−1} → v) / count(ctx_{n−1})
   *
   * plain count ratios, no smoothing; an unseen (or too short) context adds 0; the λ are used as
   * given (they sum to 0.5 by default and are not renormalised). Orders the store lacks add 0.
   * Writes ng(candidates[j]) to out[j].
   */
  interpolate(
    context: ArrayLike<number>,
    candidates: ArrayLike<number>,
    count: number,
    lambdas: readonly number[],
    out: Float64Array,
  ): void {
    out.fill(0, 0, count);
    for (let i = 0; i < lambdas.length; i++) {
      const n = i + 2;
      if (lambdas[i] === 0 || n < this.minOrder || n > this.maxOrder) continue;
      const ctx = this.findContext(n, context, context.length);
      const total = this.contextTotal(n, ctx);
      if (total === 0) continue;
      const w = lambdas[i]! / total;
      for (let j = 0; j < count; j++) out[j] += w * this.countNext(n, ctx, candidates[j]!);
    }
  }

  countOf(ngram: ArrayLike<number>): number {
    const n = ngram.length;
    return this.countNext(n, this.findContext(n, ngram, n - 1), ngram[n - 1]);
  }

  /** Serialises to the `ngram.bin` layout. */
  toBuffer(): Uint8Array {
    const orders = this.maxOrder - this.minOrder + 1;
    const headerBytes = align8(8 + 16 + 8 * orders);
    let size = headerBytes;
    for (const t of this.#tables) for (const a of arraysOf(t)) size += align8(a.byteLength);
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    out.set(Buffer.from(MAGIC, 'latin1'), 0);
    const header = [VERSION, this.minOrder, this.maxOrder, this.vocabSize];
    for (let i = 0; i < header.length; i++) view.setUint32(8 + 4 * i, header[i], true);
    this.#tables.forEach((t, i) => {
      view.setUint32(24 + 8 * i, t.keyHi.length, true);
      view.setUint32(28 + 8 * i, t.next.length, true);
    });
    let at = headerBytes;
    for (const t of this.#tables) {
      for (const a of arraysOf(t)) {
        out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
        at += align8(a.byteLength);
      }
    }
    return out;
  }

  /** Writes `ngram.bin`. */
  /** Writes the store atomically (a server may be loading the old one). */
  save(path: string): void {
    writeFileAtomic(path, this.toBuffer());
  }

  /**
   * Reads a store without copying its arrays: they are views of the file's bytes.
   * @throws Error on a bad magic, version or truncated file.
   */
  static fromBuffer(bytes: Uint8Array): NgramStore {
    if (endianness() !== 'LE') throw new Error('ngram store: little-endian hosts only');
    // Typed views need 4-byte alignment; a buffer that is not aligned is copied once.
    if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const fail = (why: string): never => {
      throw new Error(`ngram store: ${why}`);
    };
    if (bytes.byteLength < 24 || Buffer.from(bytes.subarray(0, 8)).toString('latin1') !== MAGIC)
      fail('bad magic');
    const [version, minOrder, maxOrder, vocabSize] = [0, 1, 2, 3].map((i) => view.getUint32(8 + 4 * i, true));
    if (version !== VERSION) fail(`unsupported version ${version}`);
    if (minOrder < 2 || maxOrder < minOrder || maxOrder > 32) fail('bad orders');
    const orders = maxOrder - minOrder + 1;
    let at = align8(8 + 16 + 8 * orders);
    const tables: OrderTable[] = [];
    for (let i = 0; i < orders; i++) {
      const contexts = view.getUint32(24 + 8 * i, true);
      const entries = view.getUint32(28 + 8 * i, true);
      const take = (length: number): Uint32Array => {
        if (at + 4 * length > bytes.byteLength) fail('truncated file');
        const a = new Uint32Array(bytes.buffer, bytes.byteOffset + at, length);
        at += align8(4 * length);
        return a;
      };
      const lengths = [contexts, contexts, contexts, contexts + 1, entries, entries];
      const [keyHi, keyLo, total, start, next, count] = lengths.map(take);
      tables.push({ keyHi, keyLo, total, start, next, count });
    }
    return new NgramStore(minOrder, maxOrder, vocabSize, tables);
  }

  /** Loads `ngram.bin` (one read; the arrays are views of it). */
  static load(path: string): NgramStore {
    return NgramStore.fromBuffer(readFileSync(path));
  }
}

/** A table's arrays in file order. */
function arraysOf(t: OrderTable): Uint32Array[] {
  return [t.keyHi, t.keyLo, t.total, t.start, t.next, t.count];
}
