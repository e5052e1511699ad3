import type { SamplingConfig } from './params.ts';
import type { Scratch } from './scratch.ts';
import { argmax, topK, type Values } from './top-k.ts';

/**
 * Steps 5–8 of the transform order (logits-processors.ts): temperature, top_k, top_p, min_p,
 * renormalisation. Shared by discrete sampling, hard and soft thinking.
 *
 * Nothing sorts the vocabulary. top_k uses a size-k heap. top_p and the soft-token mass cap use a
 * histogram of the log-weights (l − max) / T in bins 50/2048 wide: one pass finds the bin where the
 * cumulative mass crosses the target, and only that bin's tokens are sorted.
 */

/** A truncated, renormalised distribution. Views into scratch: valid until the next call. */
export interface Candidates {
  ids: Int32Array;
  /** Sums to 1 over [0, count). */
  probs: Float64Array;
  count: number;
}

const BINS = 2048;
/**
 * Weights below e^−40 ≈ 4e-18 of the most likely token's are taken as 0 without calling exp: in
 * float64 they cannot change a sum that includes the maximum (weight 1), and no 53-bit uniform
 * can select them. At low τ this skips exp for nearly the whole vocabulary.
 */
const NEGLIGIBLE_LOG_WEIGHT = -40;
/** Log-weights below −50 (w < 2e-22) share the last bin. */
const LOG_RANGE = 50;
const BIN_SCALE = BINS / LOG_RANGE;

/** Histogram bin of a log-weight ≤ 0 (bin 0 holds the most likely tokens). */
function binOf(logWeight: number): number {
  return logWeight > -LOG_RANGE ? Math.floor(-logWeight * BIN_SCALE) : BINS - 1;
}

/**
 * The distribution softmax(logits / T) over ids [0, n), truncated by top_k, top_p and min_p and
 * renormalised; T = 0 gives the one-hot argmax. `dropMass` additionally drops the least likely
 * tokens whose total probability (before truncation) is at most `dropMass` (see soft-thinking.ts).
 */
export function truncatedDistribution(
  logits: Values,
  n: number,
  cfg: SamplingConfig,
  scratch: Scratch,
  dropMass = 0,
): Candidates {
  const ids = scratch.int32('candidate-ids', n);
  const probs = scratch.float64('candidate-probs', n);
  if (cfg.temperature === 0 || cfg.topK === 1) {
    ids[0] = argmax(logits, n);
    probs[0] = 1;
    return { ids, probs, count: 1 };
  }
  const invT = 1 / cfg.temperature;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
  const pass: Pass = { logits, n, cfg, max, invT, dropMass };
  const count =
    cfg.topK > 0 && cfg.topK < n ? fromTopK(pass, ids, probs) : fromWholeVocab(pass, scratch, ids, probs);
  let sum = 0;
  for (let j = 0; j < count; j++) sum += probs[j];
  for (let j = 0; j < count; j++) probs[j] /= sum;
  return { ids, probs, count };
}

/** What every truncation pass reads. */
interface Pass {
  logits: Values;
  n: number;
  cfg: SamplingConfig;
  max: number;
  invT: number;
  dropMass: number;
}

/** top_k, then top_p / min_p / dropMass on the sorted k. Writes unnormalised weights. */
function fromTopK({ logits, n, cfg, max, invT, dropMass }: Pass, ids: Int32Array, w: Float64Array): number {
  let count = topK(logits, n, cfg.topK, ids);
  let total = 0;
  for (let j = 0; j < count; j++) total += w[j] = Math.exp((logits[ids[j]] - max) * invT);
  if (cfg.topP < 1) {
    let cum = 0;
    for (let j = 0; j < count; j++) {
      cum += w[j];
      if (cum >= total * cfg.topP) {
        count = j + 1;
        break;
      }
    }
  }
  let tail = 0;
  while (count > 1 && tail + w[count - 1] <= dropMass * total) tail += w[--count];
  while (count > 1 && w[count - 1] < cfg.minP) count--; // w_max = 1, so this is p ≥ min_p · p_max
  return count;
}

/** Whole-vocabulary path: weights and the log-weight histogram in one pass, then one filter pass. */
function fromWholeVocab(pass: Pass, scratch: Scratch, ids: Int32Array, out: Float64Array): number {
  const { logits, n, cfg, max, invT, dropMass } = pass;
  const w = scratch.float64('weights', n);
  const mass = scratch.float64('bin-mass', BINS).fill(0);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const lw = (logits[i] - max) * invT;
    total += w[i] = lw > NEGLIGIBLE_LOG_WEIGHT ? Math.exp(lw) : 0;
    mass[binOf(lw)] += w[i];
  }
  // Bins ≥ tailBin are dropped whole: their mass is at most dropMass of the total.
  let tailBin = BINS;
  for (let tail = 0; tailBin > 1 && tail + mass[tailBin - 1] <= dropMass * total; ) tail += mass[--tailBin];
  // Bins < edge are inside the nucleus; the edge bin is settled token by token below.
  let edge = BINS;
  let inside = 0;
  if (cfg.topP < 1) {
    for (edge = 0; edge < BINS - 1 && inside + mass[edge] < cfg.topP * total; edge++) inside += mass[edge];
  }
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (w[i] === 0 || w[i] < cfg.minP) continue;
    const b = binOf((logits[i] - max) * invT); // recomputed: cheaper than a vocab-sized bin array
    if (b < edge && b < tailBin) {
      ids[count] = i;
      out[count++] = w[i];
    }
  }
  if (edge < BINS && edge < tailBin) count = addEdgeBin(pass, w, { edge, inside, total }, ids, out, count);
  return count;
}

/** Adds the nucleus's edge-bin tokens, most likely first, until the mass reaches top_p. */
function addEdgeBin(
  { logits, n, cfg, max, invT }: Pass,
  w: Float64Array,
  nucleus: { edge: number; inside: number; total: number },
  ids: Int32Array,
  out: Float64Array,
  count: number,
): number {
  const { edge, total } = nucleus;
  let { inside } = nucleus;
  const members: number[] = [];
  for (let i = 0; i < n; i++) if (binOf((logits[i] - max) * invT) === edge && w[i] > 0) members.push(i);
  members.sort((a, b) => w[b] - w[a] || a - b);
  for (const i of members) {
    if (inside >= cfg.topP * total) break;
    inside += w[i];
    if (w[i] < cfg.minP) continue;
    ids[count] = i;
    out[count++] = w[i];
  }
  return count;
}

/**
 * Draws from softmax(logits[0..n) / T) without building a candidate list (no truncation): one
 * exp pass into scratch, then a scan to u · Σw.
 */
export function drawFromSoftmax(
  logits: Values,
  n: number,
  temperature: number,
  u: number,
  scratch: Scratch,
): number {
  const invT = 1 / temperature;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
  const w = scratch.float64('weights', n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const lw = (logits[i] - max) * invT;
    total += w[i] = lw > NEGLIGIBLE_LOG_WEIGHT ? Math.exp(lw) : 0;
  }
  const target = u * total;
  let cum = 0;
  let last = 0;
  for (let i = 0; i < n; i++) {
    if (w[i] === 0) continue;
    cum += w[i];
    last = i;
    if (target < cum) return i;
  }
  return last; // rounding left u · Σw ≥ the running sum
}

/** Draws an index into `c` with u ∈ [0, 1); returns the token id. */
export function drawCandidate(c: Candidates, u: number): number {
  let cum = 0;
  for (let j = 0; j < c.count; j++) {
    cum += c.probs[j];
    if (u < cum) return c.ids[j];
  }
  return c.ids[c.count - 1]; // rounding left u ≥ Σp
}
