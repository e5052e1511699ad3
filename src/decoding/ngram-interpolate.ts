import type { NgramStore } from './ngram-store.ts';

/**
 * Superposed Decoding's n-gram estimate for each candidate v after `context`:
 *
 *     ng(v) = Σ_{n=2..6} λ_n · count(ctx_{n−1} → v) / count(ctx_{n−1})
 *
 * plain count ratios, no smoothing; an unseen (or too short) context adds 0; the λ are used as
 * given (they sum to 0.5 by default and are not renormalised). Orders the store lacks add 0.
 * Writes ng(candidates[j]) to out[j].
 */
export function interpolateNgrams(
  store: NgramStore,
  context: ArrayLike<number>,
  candidates: ArrayLike<number>,
  count: number,
  lambdas: readonly number[],
  out: Float64Array,
): void {
  out.fill(0, 0, count);
  for (let i = 0; i < lambdas.length; i++) {
    const n = i + 2;
    if (lambdas[i] === 0 || n < store.minOrder || n > store.maxOrder) continue;
    const ctx = store.findContext(n, context, context.length);
    const total = store.contextTotal(n, ctx);
    if (total === 0) continue;
    const w = lambdas[i] / total;
    for (let j = 0; j < count; j++) out[j] += w * store.countNext(n, ctx, candidates[j]);
  }
}
