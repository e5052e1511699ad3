import type { Scratch } from './scratch.ts';
import { applyTokenBitmask } from './token-constraint.ts';

/**
 * The discrete sampler's logits transforms, in the one order reverie applies them:
 *
 *   1. restrict to the tokenizer's vocabulary (ids ≥ tokenizerVocabSize are never candidates)
 *   1b. structured output    ids the grammar forbids now → −∞ (answer rows with a constraint)
 *   1c. min_tokens           until it is reached, EOS and stop_token_ids → −∞, as in vLLM
 *   2. logit_bias            l[id] += bias
 *   3. repetition_penalty    for ids in prompt + answer: l > 0 ? l / r : l · r      (HF, vLLM)
 *   4. frequency / presence  l[id] −= count·frequency + (count > 0)·presence  (OpenAI, answer only)
 *   --- logprobs are reported from this point: the model's distribution as edited by the request
 *   5. temperature           l / T; T = 0 is greedy: argmax of step 4, steps 6–8 skipped
 *   6. top_k                 keep the k most likely
 *   7. top_p                 keep the smallest most-likely set with mass ≥ top_p (after top_k)
 *   8. min_p                 keep p ≥ min_p · p_max
 *   then renormalise and draw.
 *
 * Steps 1–4 live here; 5–8 in distribution.ts. Steps 2–4 touch only listed or seen ids, so a
 * request without them (and without a grammar or a min_tokens ban) reads the runner's logits in
 * place and copies nothing.
 */

/** Token history for the penalties of one choice. */
export class PenaltyState {
  /** Answer-token counts (frequency / presence penalties). */
  readonly counts = new Map<number, number>();
  /** Prompt + answer ids (repetition penalty); null when that penalty is off. */
  readonly seen: Set<number> | null;

  constructor(promptIds: ArrayLike<number>, trackSeen: boolean) {
    this.seen = trackSeen ? new Set(Array.from(promptIds)) : null;
  }

  /** Records an answer token. */
  record(id: number): void {
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    this.seen?.add(id);
  }
}

/** The request's logit edits (steps 2–4). */
export interface LogitEdits {
  logitBias: Map<number, number>;
  repetitionPenalty: number;
  frequencyPenalty: number;
  presencePenalty: number;
}

/** Whether any of steps 2–4 changes a logit. */
export function hasEdits(e: LogitEdits): boolean {
  return (
    e.logitBias.size > 0 || e.repetitionPenalty !== 1 || e.frequencyPenalty !== 0 || e.presencePenalty !== 0
  );
}

/** Step 2. */
export function applyLogitBias(logits: Float32Array, bias: Map<number, number>): void {
  for (const [id, b] of bias) if (id < logits.length) logits[id] += b;
}

/** Step 3: divides positive logits and multiplies negative ones, so r > 1 always discourages. */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, r: number): void {
  for (const id of seen) {
    if (id >= logits.length) continue;
    const l = logits[id];
    logits[id] = l > 0 ? l / r : l * r;
  }
}

/** Step 4. */
export function applyFrequencyPresence(
  logits: Float32Array,
  counts: Map<number, number>,
  frequency: number,
  presence: number,
): void {
  for (const [id, count] of counts) {
    if (id >= logits.length) continue;
    logits[id] -= count * frequency + (count > 0 ? presence : 0);
  }
}

/** What a step may not draw, besides the request's standing edits (steps 1b and 1c). */
export interface StepMask {
  /** The ids a grammar allows now, one bit per id (see applyTokenBitmask); null: every id. */
  bitmask?: Int32Array | null;
  /** Ids banned this step (min_tokens' stop ids). */
  banned?: readonly number[];
}

/**
 * Steps 1–4: the logits the sampler and logprobs read. Without edits, a bitmask or a ban this is
 * a view of the runner's buffer (never written: n > 1 samples read the same one); otherwise a copy
 * in scratch.
 */
export function processLogits(
  raw: Float32Array,
  tokenizerVocabSize: number,
  edits: LogitEdits,
  state: PenaltyState,
  scratch: Scratch,
  mask: StepMask = {},
): Float32Array {
  const { bitmask = null, banned = [] } = mask;
  const view = raw.subarray(0, tokenizerVocabSize);
  if (!bitmask && banned.length === 0 && !hasEdits(edits)) return view;
  const out = scratch.float32('processed-logits', tokenizerVocabSize);
  out.set(view);
  if (bitmask) applyTokenBitmask(out, bitmask, tokenizerVocabSize);
  for (const id of banned) if (id < tokenizerVocabSize) out[id] = Number.NEGATIVE_INFINITY;
  applyLogitBias(out, edits.logitBias);
  if (edits.repetitionPenalty !== 1 && state.seen)
    applyRepetitionPenalty(out, state.seen, edits.repetitionPenalty);
  if (edits.frequencyPenalty !== 0 || edits.presencePenalty !== 0) {
    applyFrequencyPresence(out, state.counts, edits.frequencyPenalty, edits.presencePenalty);
  }
  return out;
}
