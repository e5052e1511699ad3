import { createHash } from 'node:crypto';

/**
 * Which prompt prefixes have cached KV. Keys are chains of block hashes over token ids (a block's
 * key covers it and everything before it, as in vLLM), so only positions whose input was a
 * discrete token can ever be keyed: soft, superposed or latent inputs never enter the cache.
 * Entries are evicted least recently used first. Pure bookkeeping: the runner holds the KV of
 * each entry under the entry's id.
 */
export interface PrefixEntry {
  /** KV holder id of the entry (negative, distinct from sequence ids). */
  id: number;
  /** Positions the entry covers, or (from lookup) the matched positions to copy: whole blocks. */
  length: number;
}

/** sha256 of the parent key and a block's ids: a key names the whole prefix up to its block. */
function blockHash(parent: string, ids: ArrayLike<number>, start: number, blockSize: number): string {
  const block = new Int32Array(blockSize);
  for (let i = 0; i < blockSize; i++) block[i] = ids[start + i]!;
  return createHash('sha256').update(parent).update(new Uint8Array(block.buffer)).digest('base64');
}

/** Chain keys of every full block of `ids[0..length)`. */
export function prefixKeys(ids: ArrayLike<number>, length: number, blockSize: number): string[] {
  const keys: string[] = [];
  let parent = '';
  for (let start = 0; start + blockSize <= length; start += blockSize) {
    parent = blockHash(parent, ids, start, blockSize);
    keys.push(parent);
  }
  return keys;
}

export class PrefixCache {
  /** Entries in LRU order (oldest first). */
  readonly #entries = new Map<number, { entry: PrefixEntry; keys: string[] }>();
  /**
   * Every block key of every entry → the entry holding it. An entry of L positions serves any
   * prompt that shares its first m ≤ L positions, copying only those m.
   */
  readonly #keys = new Map<string, PrefixEntry>();
  #nextId = -1;
  queries = 0;
  hits = 0;

  /** @param blockSize positions per block (the runner's KV block) */
  constructor(readonly blockSize: number) {}

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The longest cached prefix of `ids` no longer than `limit` positions (a sequence must compute at
   * least one position itself to get logits): the entry to copy from and how many positions.
   * Marks the entry as recently used.
   */
  lookup(ids: ArrayLike<number>, limit: number): PrefixEntry | null {
    this.queries++;
    const keys = prefixKeys(ids, Math.min(ids.length, limit), this.blockSize);
    for (let i = keys.length - 1; i >= 0; i--) {
      const entry = this.#keys.get(keys[i]!);
      if (!entry) continue;
      const held = this.#entries.get(entry.id)!;
      this.#entries.delete(entry.id);
      this.#entries.set(entry.id, held);
      this.hits++;
      return { id: entry.id, length: (i + 1) * this.blockSize };
    }
    return null;
  }

  /** Whether the first `length` positions (whole blocks) of `ids` are already cached. */
  has(ids: ArrayLike<number>, length: number): boolean {
    const keys = prefixKeys(ids, length, this.blockSize);
    return keys.length > 0 && this.#keys.has(keys[keys.length - 1]!);
  }

  /** Registers an entry for the first `length` positions (rounded down to blocks); returns it, or null. */
  insert(ids: ArrayLike<number>, length: number): PrefixEntry | null {
    const keys = prefixKeys(ids, length, this.blockSize);
    if (keys.length === 0 || this.#keys.has(keys[keys.length - 1]!)) return null;
    const entry = { id: this.#nextId--, length: keys.length * this.blockSize };
    const own = keys.filter((k) => !this.#keys.has(k));
    for (const k of own) this.#keys.set(k, entry);
    this.#entries.set(entry.id, { entry, keys: own });
    return entry;
  }

  /** Removes and returns the least recently used entry. */
  evictOldest(): PrefixEntry | null {
    const first = this.#entries.values().next();
    if (first.done) return null;
    const { entry, keys } = first.value;
    this.#entries.delete(entry.id);
    for (const k of keys) this.#keys.delete(k);
    return entry;
  }
}
