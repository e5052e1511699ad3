/**
 * The plain batch description the engine hands the runner each step, and what comes back.
 * No tensors here: the runner turns rows into feeds (see runner.ts).
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

/** A view of one output position's logits. */
export function rowLogits(r: StepResult, outputPos: number): Float32Array {
  return r.logits.subarray(outputPos * r.vocabSize, (outputPos + 1) * r.vocabSize);
}

/** A view of one output position's hidden state. */
export function rowHidden(r: StepResult, outputPos: number): Float32Array {
  return r.hidden.subarray(outputPos * r.hiddenSize, (outputPos + 1) * r.hiddenSize);
}
