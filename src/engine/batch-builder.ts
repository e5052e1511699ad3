import type { BagInput } from '../decoding/types.ts';
import type { KvCopy, RowStep, StepPlan } from '../model/batch.ts';
import type { ScheduledBatch, ScheduledRow } from './scheduler.ts';
import type { StepSample } from './types.ts';

/**
 * From the scheduler's plan to the runner's step message: each scheduled row's inputs (prompt ids
 * or the bags its decoder fed, as recorded), and the KV changes the step carries — the
 * scheduler's, plus those the engine decided after the previous step (a prompt copied into the
 * prefix cache, n > 1 samples starting from their first sample's prompt, finished sequences).
 */

const ONE = Float32Array.of(1);

/** What a row's inputs are read from: a prompt and every input fed after it. */
export interface RowSource {
  id: number;
  promptIds: Int32Array;
  generated: readonly BagInput[];
}

/** The row's inputs for positions [start, start+count): prompt ids or the fed bags, as recorded. */
export function rowStep(seq: RowSource, start: number, count: number, hiddenSize: number): RowStep {
  const prompt = seq.promptIds.length;
  if (start + count <= prompt) {
    return { seq: seq.id, count, bagSize: 1, ids: seq.promptIds.subarray(start, start + count) };
  }
  const inputAt = (pos: number): BagInput =>
    pos < prompt ? { ids: seq.promptIds.subarray(pos, pos + 1), weights: ONE } : seq.generated[pos - prompt]!;
  let bagSize = 1;
  let hasAdd = false;
  for (let p = start; p < start + count; p++) {
    const input = inputAt(p);
    bagSize = Math.max(bagSize, input.ids.length);
    hasAdd ||= input.add !== undefined;
  }
  const ids = new Int32Array(count * bagSize);
  const weights = new Float32Array(count * bagSize);
  const add = hasAdd ? new Float32Array(count * hiddenSize) : undefined;
  for (let p = start; p < start + count; p++) {
    const input = inputAt(p);
    const o = (p - start) * bagSize;
    ids.set(input.ids, o);
    weights.set(input.weights, o);
    if (add && input.add) add.set(input.add, (p - start) * hiddenSize);
  }
  return { seq: seq.id, count, bagSize, ids, weights, add };
}

/**
 * KV changes decided between steps, held for the next step's message: the runner applies a
 * message's forks, then its copies, then its frees, so an entry forked after the last step can
 * serve a prefix hit of this one, and a holder freed meanwhile can still be read.
 */
export class KvChanges {
  #copies: KvCopy[] = [];
  #forks: KvCopy[] = [];
  #frees: number[] = [];

  /** `to` reads `from`'s first positions (may share storage). */
  copy(c: KvCopy): void {
    this.#copies.push(c);
  }

  /** `to` gets a private copy of `from`'s first positions. */
  fork(c: KvCopy): void {
    this.#forks.push(c);
  }

  free(holders: Iterable<number>): void {
    this.#frees.push(...holders);
  }

  get pending(): boolean {
    return this.#copies.length + this.#forks.length + this.#frees.length > 0;
  }

  /** The step message of a scheduled batch, carrying every change held so far. */
  plan(batch: ScheduledBatch, hiddenSize: number): StepPlan {
    const plan: StepPlan = {
      // Held copies first: the rows scheduled now may read them (a forked sample's prompt).
      copies: [...this.#copies, ...batch.copies],
      forks: this.#forks,
      frees: [...this.#frees, ...batch.frees],
      rows: batch.rows.map((r) => rowStep(r.seq, r.start, r.count, hiddenSize)),
    };
    this.#copies = [];
    this.#forks = [];
    this.#frees = [];
    return plan;
  }
}

/** What a step computes: rows and positions (batch-size metrics), and prompt positions among them. */
export function stepSize(rows: readonly ScheduledRow[]): StepSample & { promptPositions: number } {
  let positions = 0;
  let promptPositions = 0;
  for (const r of rows) {
    positions += r.count;
    promptPositions += Math.max(0, Math.min(r.start + r.count, r.seq.promptIds.length) - r.start);
  }
  return { rows: rows.length, positions, promptPositions };
}
