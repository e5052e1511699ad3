/**
 * The scoring and selection of one Superposed Decoding step (superposed-decoding.md), as pure
 * functions over small arrays: k drafts × `candidates` tokens, never the vocabulary.
 */

/** A draft: its tokens since the answer began and its cumulative score. */
export interface Draft {
  tokens: number[];
  /** Σ token scores (≤ 0; higher is better). */
  score: number;
}

/** One (draft, token) continuation. */
export interface Pair {
  draft: number;
  token: number;
  /** Draft score + token score. */
  score: number;
}

/**
 * Token scores of one draft, written to out[j] for candidate j:
 *
 *     s = (1 − α) · log p̂(v) + α · log ng(v)
 *
 * A candidate with ng = 0 gets −∞; if every candidate of the draft is −∞, the draft falls back to
 * (1 − α) · log p̂(v) − penalty. With α = 0 (or no store) s = log p̂(v).
 */
export function tokenScores(
  probs: ArrayLike<number>,
  ngram: ArrayLike<number> | null,
  count: number,
  alpha: number,
  penalty: number,
  out: Float64Array,
): void {
  if (alpha === 0 || ngram === null) {
    for (let j = 0; j < count; j++) out[j] = Math.log(probs[j]);
    return;
  }
  let anyFinite = false;
  for (let j = 0; j < count; j++) {
    out[j] =
      ngram[j] > 0 ? (1 - alpha) * Math.log(probs[j]) + alpha * Math.log(ngram[j]) : Number.NEGATIVE_INFINITY;
    anyFinite ||= out[j] > Number.NEGATIVE_INFINITY;
  }
  if (!anyFinite) for (let j = 0; j < count; j++) out[j] = (1 - alpha) * Math.log(probs[j]) - penalty;
}

/**
 * The `limit` best (draft, token) pairs by draft score + token score, best first (ties: lower
 * draft, then earlier candidate). −∞ pairs are never returned.
 */
export function bestPairs(
  drafts: readonly Draft[],
  candidateIds: ArrayLike<number>,
  scores: readonly Float64Array[],
  count: number,
  limit: number,
): Pair[] {
  const pairs: Pair[] = [];
  drafts.forEach((d, i) => {
    for (let j = 0; j < count; j++) {
      const score = d.score + scores[i][j];
      if (score > Number.NEGATIVE_INFINITY) pairs.push({ draft: i, token: candidateIds[j], score });
    }
  });
  // Stable sort keeps the (draft, candidate) order among equal scores; at most k · 3k pairs.
  pairs.sort((a, b) => b.score - a.score);
  return pairs.slice(0, limit);
}

/** Per-token perplexity exp(−score / length): the final ranking, lower first. */
export function perplexity(d: Draft): number {
  return d.tokens.length === 0 ? Number.POSITIVE_INFINITY : Math.exp(-d.score / d.tokens.length);
}

/**
 * The superposed input: each live draft's last token weighted by softmax of the draft scores
 * (normalised draft probabilities); drafts ending in the same token add up.
 */
export function superpositionWeights(drafts: readonly Draft[]): { ids: number[]; weights: number[] } {
  const max = Math.max(...drafts.map((d) => d.score));
  const byToken = new Map<number, number>();
  let sum = 0;
  for (const d of drafts) {
    const w = Math.exp(d.score - max);
    sum += w;
    const last = d.tokens[d.tokens.length - 1];
    byToken.set(last, (byToken.get(last) ?? 0) + w);
  }
  return { ids: [...byToken.keys()], weights: [...byToken.values()].map((w) => w / sum) };
}
