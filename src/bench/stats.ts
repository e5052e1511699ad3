/** Small statistics helpers shared by the benchmarks. */

export function median(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : percentile(xs, 50);
}

/** Milliseconds since an arbitrary origin, high resolution. */
export function nowMs(): number {
  return performance.now();
}

/** Formats rows as an aligned plain-text table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => c.padStart(widths[i]!)).join('  ')).join('\n');
}

/** Arithmetic mean; 0 for an empty list (as vLLM's serving benchmark reports it). */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  let sum = 0;
  for (const x of xs) sum += x;
  return sum / xs.length;
}

/**
 * The p-th percentile (0..100) with linear interpolation between closest ranks, as numpy's
 * default `percentile`: rank = p/100 · (n − 1). 0 for an empty list.
 * @example percentile([1, 2, 3, 4], 50) // 2.5
 */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo]! + (s[hi]! - s[lo]!) * (rank - lo);
}

/** log-softmax of one row of logits, in float64. */
export function logSoftmax(logits: Float32Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(logits, (v) => v - lse);
}

/**
 * Mean over positions of KL(P ‖ Q) = Σ_v p_v (log p_v − log q_v), in nats, for two [T, V] blocks of
 * logits (P from `p`: the reference distribution).
 */
export function meanKl(p: Float32Array, q: Float32Array, vocab: number): number {
  const positions = p.length / vocab;
  let total = 0;
  for (let t = 0; t < positions; t++) {
    const lp = logSoftmax(p.subarray(t * vocab, (t + 1) * vocab));
    const lq = logSoftmax(q.subarray(t * vocab, (t + 1) * vocab));
    for (let v = 0; v < vocab; v++) total += Math.exp(lp[v]!) * (lp[v]! - lq[v]!);
  }
  return total / positions;
}
