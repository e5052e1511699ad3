import type { SamplingConfig } from './params.ts';
import type { Scratch } from './scratch.ts';
import { argmax, topK, type Values } from './top-k.ts';

/**
 * Steps 5–8 of the transform order (logits-processors.ts): temperature, top_k, top_p, min_p,
 * renormalisation. Shared by discrete sampling, hard and soft thinking.
 */

/** A truncated, renormalised distribution. Views into scratch: valid until the next call. */
export interface Candidates {
  ids: Int32Array;
  /** Sums to 1 over [0, count). */
  probs: Float64Array;
  count: number;
}

/** top_p first looks among this many tokens, then widens; never a full sort of the vocabulary. */
const TOP_P_WINDOWS = [64, 1024, 16384];

/**
 * The distribution softmax(logits / T) over ids [0, n), truncated by top_k, top_p and min_p and
 * renormalised. T = 0 gives the one-hot argmax. `dropBelow` additionally drops ids whose
 * probability under the untruncated distribution is below it (see soft-thinking.ts for why).
 */
export function truncatedDistribution(
  logits: Values,
  n: number,
  cfg: SamplingConfig,
  scratch: Scratch,
  dropBelow = 0,
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

  // Unnormalised weights w = exp((l − max) / T); the most likely token has w = 1.
  let count: number;
  let total = 0;
  let sorted = false;
  let weights: Values = logits;
  if (cfg.topK > 0 && cfg.topK < n) {
    count = topK(logits, n, cfg.topK, ids);
    for (let j = 0; j < count; j++) total += probs[j] = Math.exp((logits[ids[j]] - max) * invT);
    sorted = true;
  } else {
    const w = scratch.float64('weights', n);
    for (let i = 0; i < n; i++) total += w[i] = Math.exp((logits[i] - max) * invT);
    weights = w;
    count = n;
  }

  if (cfg.topP < 1) {
    if (!sorted) {
      count = selectNucleus(weights, n, total * cfg.topP, ids);
      for (let j = 0; j < count; j++) probs[j] = weights[ids[j]];
      sorted = true;
    } else {
      let cum = 0;
      for (let j = 0; j < count; j++) {
        cum += probs[j];
        if (cum >= total * cfg.topP) {
          count = j + 1;
          break;
        }
      }
    }
  }

  // min_p (relative to p_max, whose weight is 1) and dropBelow (relative to the full mass).
  const floor = Math.max(cfg.minP, dropBelow * total);
  let kept = 0;
  let sum = 0;
  if (sorted) {
    for (let j = 0; j < count; j++) {
      if (probs[j] >= floor || j === 0) {
        ids[kept] = ids[j];
        sum += probs[kept] = probs[j];
        kept++;
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      const w = weights[i];
      if (w >= floor && w > 0) {
        ids[kept] = i;
        sum += probs[kept] = w;
        kept++;
      }
    }
  }
  for (let j = 0; j < kept; j++) probs[j] /= sum;
  return { ids, probs, count: kept };
}

/**
 * Writes the most likely ids into `out`, best first, until their weight reaches `mass`; returns
 * how many. Looks at the top 64, then 1024, then 16384, then everything.
 */
function selectNucleus(weights: Values, n: number, mass: number, out: Int32Array): number {
  for (const window of [...TOP_P_WINDOWS, n]) {
    const m = topK(weights, n, Math.min(window, n), out);
    let cum = 0;
    for (let j = 0; j < m; j++) {
      cum += weights[out[j]];
      if (cum >= mass) return j + 1;
    }
    if (m === n) return m;
  }
  return n;
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
