/**
 * The runner boundary: the plain message the engine hands a runner each step, what comes back,
 * and the `Runner` interface itself. No tensors here: each runner turns rows into its own inputs
 * (the ONNX runner, runner.ts; the float64 reference, reference-runner.ts).
 */

/** One row of a step: `count` new positions of sequence `seq`, each a weighted bag of ids. */
export interface RowStep {
  /** Sequence handle: the runner keeps this sequence's KV cache between steps. */
  seq: number;
  /** New positions this step (a prompt chunk, or 1 for a decode step). */
  count: number;
  /** Bag entries per position (1 for plain tokens). */
  bagSize: number;
  /** count × bagSize token ids, position-major. */
  ids: Int32Array;
  /** count × bagSize weights; omitted means weight 1 for every id. */
  weights?: Float32Array;
  /** count × hidden additive embedding (noise, latent hidden state); omitted means zero. */
  add?: Float32Array;
  /** Return logits/hidden for every new position (prompt logprobs), not only the last. */
  allPositions?: boolean;
}

/** `to` starts as the first `length` positions of holder `from`. */
export interface KvCopy {
  from: number;
  to: number;
  length: number;
}

/**
 * One step's message: KV bookkeeping, then the forward of `rows`. The runner applies it in this
 * order: `forks` (a prompt becomes a prefix-cache entry), `copies` (which may read that entry),
 * `frees` (so a holder freed in the same step can still be read), then the rows. KV holders are
 * sequences (ids ≥ 0) and prefix-cache entries (negative ids).
 */
export interface StepPlan {
  /** `to` reads `from`'s first positions; a runner may share their storage (n > 1 samples, prefix-cache hits). */
  copies?: readonly KvCopy[];
  /** `to` gets a private copy: it must not keep `from`'s storage alive (a prompt into the prefix cache). */
  forks?: readonly KvCopy[];
  /** Holders to drop. */
  frees?: readonly number[];
  /** Rows to compute; none: the plan's KV changes only. */
  rows: readonly RowStep[];
}

/** A step's outputs, row-major: row r's outputs start at `offsets[r]` (in units of positions). */
export interface StepResult {
  /** [outputs, vocab] raw logits. */
  logits: Float32Array;
  /** [outputs, hidden] last-layer hidden states after the final norm. */
  hidden: Float32Array;
  /** First output position of each row; a row has `count` outputs if allPositions, else 1. */
  offsets: Int32Array;
  vocabSize: number;
  hiddenSize: number;
}

/**
 * What the engine needs of a model: a batched, KV-cached forward driven by plain step messages.
 * The runner owns every tensor and the KV bytes; the engine owns the bookkeeping (which holder
 * has how many positions, in blocks of `kvBlockSize`) and tells the runner what to copy and free.
 */
export interface Runner {
  /** Positions per KV block: the unit the engine budgets, admits, preempts and caches prefixes in. */
  readonly kvBlockSize: number;
  /** KV bytes of one position (keys and values of every layer, at the runner's KV precision). */
  readonly kvBytesPerPosition: number;
  /** Logits per output (the model's vocab, maybe padded past the tokenizer's). */
  readonly vocabSize: number;
  readonly hiddenSize: number;
  /** Cumulative milliseconds of forward computation (the engine's overhead is measured against it). */
  readonly forwardMs: number;
  /** Applies a step's KV changes, then computes its rows (none: an empty result). */
  step(plan: StepPlan): Promise<StepResult>;
  /** Cached positions of a holder (0 when unknown). */
  kvLength(holder: number): number;
  /** Bytes of KV held now, shared storage counted once. */
  kvBytes(): number;
  /** Releases the model (sessions, buffers). */
  close(): Promise<void>;
}

/** A view of one output position's logits. */
export function rowLogits(r: StepResult, outputPos: number): Float32Array {
  return r.logits.subarray(outputPos * r.vocabSize, (outputPos + 1) * r.vocabSize);
}

/** A view of one output position's hidden state. */
export function rowHidden(r: StepResult, outputPos: number): Float32Array {
  return r.hidden.subarray(outputPos * r.hiddenSize, (outputPos + 1) * r.hiddenSize);
}

/** What a decoder reads of row `row`'s last output. */
export function rowOutput(r: StepResult, row: number): { logits: Float32Array; hidden: Float32Array } {
  return { logits: rowLogits(r, r.offsets[row]!), hidden: rowHidden(r, r.offsets[row]!) };
}

/** A step result with no rows. */
export function emptyResult(vocabSize: number, hiddenSize: number): StepResult {
  return {
    logits: new Float32Array(0),
    hidden: new Float32Array(0),
    offsets: new Int32Array(0),
    vocabSize,
    hiddenSize,
  };
}

/** Applies a plan's KV changes in the plan's order, through a runner's own store operations. */
export function applyKvChanges(
  plan: StepPlan,
  kv: {
    share(from: number, to: number, length: number): void;
    fork(from: number, to: number, length: number): void;
    free(holder: number): void;
  },
): void {
  for (const c of plan.forks ?? []) kv.fork(c.from, c.to, c.length);
  for (const c of plan.copies ?? []) kv.share(c.from, c.to, c.length);
  for (const holder of plan.frees ?? []) kv.free(holder);
}
