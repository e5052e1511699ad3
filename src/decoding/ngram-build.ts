import { contextKey } from './ngram-hash.ts';
import { NgramStore, type OrderTable } from './ngram-store.ts';

/**
 * Builds an NgramStore from tokenized documents. N-grams never cross a document boundary. Each
 * order is one pass: key every position's context, radix-sort (key, next) — linear, so a corpus
 * of tens of millions of tokens builds in seconds — then run-length count.
 *
 * @example const store = buildNgramStore([tokenizer.encode(text)], tokenizerVocabSize);
 */
export function buildNgramStore(
  documents: Iterable<ArrayLike<number>>,
  vocabSize: number,
  orders: { min: number; max: number } = { min: 2, max: 6 },
): NgramStore {
  const docs = Array.from(documents, (d) => Int32Array.from(d));
  for (const d of docs) {
    for (const id of d) {
      if (!(id >= 0 && id < vocabSize))
        throw new RangeError(`ngram build: token id ${id} outside vocab ${vocabSize}`);
    }
  }
  const tables: OrderTable[] = [];
  for (let n = orders.min; n <= orders.max; n++) tables.push(buildOrder(docs, n));
  return new NgramStore(orders.min, orders.max, vocabSize, tables);
}

function buildOrder(docs: Int32Array[], n: number): OrderTable {
  let size = 0;
  for (const d of docs) size += Math.max(0, d.length - n + 1);
  const hi = new Uint32Array(size);
  const lo = new Uint32Array(size);
  const next = new Uint32Array(size);
  let at = 0;
  for (const d of docs) {
    for (let i = 0; i + n <= d.length; i++, at++) {
      [hi[at], lo[at]] = contextKey(d, i, i + n - 1);
      next[at] = d[i + n - 1];
    }
  }
  const order = radixSortOrder([next, lo, hi], size);
  return countRuns(order, hi, lo, next);
}

/**
 * Indices 0..size sorted by keys[last], then …, then keys[0] (LSD radix sort, 16-bit digits,
 * stable), all keys unsigned 32-bit.
 */
function radixSortOrder(keys: Uint32Array[], size: number): Uint32Array {
  let order = new Uint32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  let spare = new Uint32Array(size);
  const counts = new Uint32Array(65537);
  for (const key of keys) {
    for (const shift of [0, 16]) {
      counts.fill(0);
      for (let i = 0; i < size; i++) counts[((key[order[i]] >>> shift) & 0xffff) + 1]++;
      if (counts[1] === size) continue; // every digit is 0: this pass would not move anything
      for (let d = 1; d < 65537; d++) counts[d] += counts[d - 1];
      for (let i = 0; i < size; i++) spare[counts[(key[order[i]] >>> shift) & 0xffff]++] = order[i];
      [order, spare] = [spare, order];
    }
  }
  return order;
}

/** Groups sorted (context, next) entries into the store's arrays. */
function countRuns(order: Uint32Array, hi: Uint32Array, lo: Uint32Array, next: Uint32Array): OrderTable {
  const size = order.length;
  // Sized for the worst case (every entry distinct), trimmed at the end.
  const keyHi = new Uint32Array(size);
  const keyLo = new Uint32Array(size);
  const total = new Uint32Array(size);
  const start = new Uint32Array(size + 1);
  const nextIds = new Uint32Array(size);
  const nextCounts = new Uint32Array(size);
  let contexts = 0;
  let entries = 0;
  for (let j = 0; j < size; j++) {
    const e = order[j];
    const prev = j > 0 ? order[j - 1] : -1;
    const newContext = prev < 0 || hi[prev] !== hi[e] || lo[prev] !== lo[e];
    if (newContext) {
      keyHi[contexts] = hi[e];
      keyLo[contexts] = lo[e];
      start[contexts] = entries;
      contexts++;
    }
    if (newContext || next[prev] !== next[e]) nextIds[entries++] = next[e];
    nextCounts[entries - 1]++;
    total[contexts - 1]++;
  }
  start[contexts] = entries;
  return {
    keyHi: keyHi.slice(0, contexts),
    keyLo: keyLo.slice(0, contexts),
    total: total.slice(0, contexts),
    start: start.slice(0, contexts + 1),
    next: nextIds.slice(0, entries),
    count: nextCounts.slice(0, entries),
  };
}
