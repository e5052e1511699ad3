import { KvManager } from './kv-manager.ts';
import { PrefixCache } from './prefix-cache.ts';
import type { Sequence } from './sequence.ts';

/**
 * Iteration-level scheduler (vLLM v1 style): no prefill or decode phase, just a count of computed
 * positions per sequence and one token budget per step, handed out to running sequences first
 * (decode rows, then unfinished prompt chunks), then to waiting ones in arrival order. Chunked
 * prefill, prefix caching and preemption by recompute all fall out of that one model.
 *
 * Pure bookkeeping: it returns a plain batch description and never touches tensors.
 */

export interface SchedulerLimits {
  /** Positions per KV block (the runner's `kvBlockSize`): the unit of the budget and of prefix keys. */
  blockSize: number;
  maxNumSeqs: number;
  maxBatchedTokens: number;
  kvCapacityBlocks: number;
  prefixCache: boolean;
  /** Most blocks the prefix cache may hold (default: the whole capacity). */
  prefixCacheBlocks?: number;
}

/** `count` positions of `seq` starting at `seq.computed` (before the step). */
export interface ScheduledRow {
  seq: Sequence;
  start: number;
  count: number;
}

/** What the runner must do for one step, in order: copies (from prefix-cache entries), frees, then the rows. */
export interface ScheduledBatch {
  rows: ScheduledRow[];
  /** KV copies (prefix-cache hits into sequences, prompts into the cache). */
  copies: { from: number; to: number; length: number }[];
  /** KV holders to drop (preempted or finished sequences, evicted cache entries). */
  frees: number[];
  /** Sequences preempted this step (back in the waiting queue, to recompute). */
  preempted: Sequence[];
  /** Sequences that can never fit the KV budget; the caller fails their requests. */
  rejected: Sequence[];
  /** Sequences admitted from the waiting queue this step. */
  admitted: Sequence[];
}

export class Scheduler {
  readonly kv: KvManager;
  readonly prefix: PrefixCache;
  readonly waiting: Sequence[] = [];
  readonly running: Sequence[] = [];
  /**
   * Sequences whose reader stalled (flow control): out of every batch, neither running nor
   * waiting, but alive; a paused running sequence keeps its KV until it resumes, unless a running
   * or waiting sequence needs the room (then it is recomputed on resume, like a preempted one).
   */
  readonly paused: Sequence[] = [];
  preemptions = 0;
  /** Holders to free in the next batch (finished, cancelled, evicted). */
  #frees: number[] = [];
  readonly #limits: SchedulerLimits;

  constructor(limits: SchedulerLimits) {
    this.#limits = limits;
    this.kv = new KvManager(limits.kvCapacityBlocks, limits.blockSize);
    this.prefix = new PrefixCache(limits.blockSize);
  }

  hasWork(): boolean {
    return this.running.length > 0 || this.waiting.length > 0;
  }

  add(seq: Sequence): void {
    seq.status = 'waiting';
    this.waiting.push(seq);
  }

  /** Puts a sequence that already has KV (a forked sample) straight into the running set. */
  addRunning(seq: Sequence): boolean {
    if (!this.kv.reserve(seq.id, seq.length)) return false;
    seq.status = 'running';
    this.running.push(seq);
    return true;
  }

  /** Removes a finished or cancelled sequence and schedules its KV to be freed. */
  finish(seq: Sequence): void {
    seq.status = 'finished';
    removeFrom(this.running, seq);
    removeFrom(this.waiting, seq);
    removeFrom(this.paused, seq);
    this.kv.release(seq.id);
    this.#frees.push(seq.id);
  }

  /** Takes a running or waiting sequence out of scheduling; its KV stays reserved. */
  pause(seq: Sequence): void {
    if (seq.status !== 'running' && seq.status !== 'waiting') return;
    removeFrom(this.running, seq);
    removeFrom(this.waiting, seq);
    seq.status = 'paused';
    this.paused.push(seq);
  }

  /**
   * Puts a paused sequence back: into the running set when it still holds its KV, else at the
   * head of the waiting queue (it was admitted before everything that waits).
   */
  resume(seq: Sequence): void {
    if (seq.status !== 'paused') return;
    removeFrom(this.paused, seq);
    if (this.kv.blocksOf(seq.id) > 0) {
      seq.status = 'running';
      this.running.push(seq);
    } else {
      seq.status = 'waiting';
      this.waiting.unshift(seq);
    }
  }

  /** Whether holders were released since the last step (the next step's message frees their KV). */
  hasFrees(): boolean {
    return this.#frees.length > 0;
  }

  /** Holders released since the last step (finished, cancelled, evicted), for the runner to free. */
  takeFrees(): number[] {
    const frees = this.#frees;
    this.#frees = [];
    return frees;
  }

  /**
   * Offers a sequence's prompt to the prefix cache once the prompt's KV is computed. Returns the
   * copy the runner must make (in the next step's message, before it frees anything), or null.
   */
  cachePrompt(seq: Sequence): { from: number; to: number; length: number } | null {
    const share = this.#limits.prefixCacheBlocks ?? this.#limits.kvCapacityBlocks;
    const length = seq.promptIds.length;
    // An entry covers whole blocks; one larger than the cache's whole share is not worth evicting for.
    if (!this.#limits.prefixCache || Math.floor(length / this.#limits.blockSize) > share) return null;
    const entry = this.prefix.has(seq.promptIds, length) ? null : this.prefix.insert(seq.promptIds, length);
    if (!entry) return null;
    // No room even after evicting older entries: the entry is dropped rather than preempt work for it.
    if (!this.#reserveOrEvict(entry.id, entry.length, entry.id)) return null;
    // Beyond its share the cache evicts its oldest entries (the new one, the most recent, last).
    while (this.kv.cachedBlocks > share) {
      const victim = this.prefix.evictOldest()!;
      this.kv.release(victim.id);
      if (victim.id === entry.id) return null;
      this.#frees.push(victim.id);
    }
    return { from: seq.id, to: entry.id, length: entry.length };
  }

  /** Plans the next step. */
  schedule(): ScheduledBatch {
    const batch: ScheduledBatch = {
      rows: [],
      copies: [],
      frees: this.#frees,
      preempted: [],
      rejected: [],
      admitted: [],
    };
    this.#frees = [];
    let budget = this.#limits.maxBatchedTokens;
    const inBatch = new Set<Sequence>();

    // Running first: decode rows (one pending position) before unfinished prompt chunks.
    const order = [...this.running].sort(
      (a, b) => (a.pending === 1 ? 0 : 1) - (b.pending === 1 ? 0 : 1) || a.arrival - b.arrival,
    );
    for (const seq of order) {
      if (seq.status !== 'running') continue; // preempted earlier in this loop
      if (budget === 0 || batch.rows.length >= this.#limits.maxNumSeqs) break;
      const count = Math.min(seq.pending, budget);
      if (!this.#growOrPreempt(seq, seq.computed + count, inBatch, batch)) continue;
      batch.rows.push({ seq, start: seq.computed, count });
      inBatch.add(seq);
      budget -= count;
    }

    // Then admit waiting sequences in order (head-of-line: stop at the first that does not fit).
    while (this.waiting.length > 0 && budget > 0 && this.running.length < this.#limits.maxNumSeqs) {
      const seq = this.waiting[0]!;
      // A sequence preempted for room in this very step waits at least one step.
      if (batch.preempted.includes(seq)) break;
      if (this.kv.blocksFor(seq.length + 1) > this.kv.capacityBlocks) {
        this.waiting.shift();
        batch.rejected.push(seq);
        continue;
      }
      if (seq.computed === 0 && this.#limits.prefixCache) this.#usePrefix(seq, batch);
      const count = Math.min(seq.pending, budget);
      // Reserve the whole known history at once, so admitted prompts are not preempted mid-prefill.
      if (!this.#reserveOrEvict(seq.id, seq.length + 1, undefined, batch)) {
        if (seq.cachedTokens > 0) this.#undoPrefix(seq, batch);
        break;
      }
      this.waiting.shift();
      seq.status = 'running';
      this.running.push(seq);
      batch.admitted.push(seq);
      batch.rows.push({ seq, start: seq.computed, count });
      inBatch.add(seq);
      budget -= count;
    }
    return batch;
  }

  /** Applies a step's progress: rows' positions are now computed. */
  advance(batch: ScheduledBatch): void {
    for (const row of batch.rows) row.seq.computed = row.start + row.count;
  }

  #usePrefix(seq: Sequence, batch: ScheduledBatch): void {
    const entry = this.prefix.lookup(seq.promptIds, seq.promptIds.length - 1);
    if (!entry) return;
    batch.copies.push({ from: entry.id, to: seq.id, length: entry.length });
    seq.computed = entry.length;
    seq.cachedTokens = entry.length;
  }

  #undoPrefix(seq: Sequence, batch: ScheduledBatch): void {
    batch.copies.pop();
    seq.computed = 0;
    seq.cachedTokens = 0;
  }

  /**
   * Reserves KV, evicting prefix-cache entries (never `keep`) while that helps; with `batch`
   * (room for a running or waiting sequence), then the KV of paused sequences, newest first.
   */
  #reserveOrEvict(holder: number, positions: number, keep?: number, batch?: ScheduledBatch): boolean {
    while (!this.kv.reserve(holder, positions)) {
      const victim = this.prefix.evictOldest();
      if (!victim) {
        const paused = batch && newest(this.paused.filter((s) => this.kv.blocksOf(s.id) > 0));
        if (!paused) return false;
        this.#dropKv(paused, batch);
        continue;
      }
      // The entry being added was the oldest left: it is gone now, and nothing more can be freed.
      if (victim.id === keep) return false;
      this.kv.release(victim.id);
      this.#frees.push(victim.id);
    }
    return true;
  }

  /** Makes room for `seq` to reach `positions`, preempting the newest other running sequences. */
  #growOrPreempt(seq: Sequence, positions: number, inBatch: Set<Sequence>, batch: ScheduledBatch): boolean {
    while (!this.#reserveOrEvict(seq.id, positions, undefined, batch)) {
      const victim = newest(this.running.filter((s) => s !== seq && !inBatch.has(s)));
      if (!victim) {
        // Nothing else to take from: recompute this one later, when others have finished.
        this.#preempt(seq, batch);
        return false;
      }
      this.#preempt(victim, batch);
    }
    return true;
  }

  #preempt(seq: Sequence, batch: ScheduledBatch): void {
    removeFrom(this.running, seq);
    this.#dropKv(seq, batch);
    seq.status = 'waiting';
    this.waiting.unshift(seq);
  }

  /** Frees a sequence's KV: it recomputes its history when it runs again (preemption by recompute). */
  #dropKv(seq: Sequence, batch: ScheduledBatch): void {
    this.kv.release(seq.id);
    batch.frees.push(seq.id);
    seq.computed = 0;
    seq.cachedTokens = 0;
    batch.preempted.push(seq);
    this.preemptions++;
  }
}

function removeFrom(list: Sequence[], seq: Sequence): void {
  const i = list.indexOf(seq);
  if (i >= 0) list.splice(i, 1);
}

function newest(list: Sequence[]): Sequence | undefined {
  let best: Sequence | undefined;
  for (const s of list) if (!best || s.arrival > best.arrival) best = s;
  return best;
}
