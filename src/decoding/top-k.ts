/**
 * Selection primitives for the hot path: nothing here sorts the vocabulary. Ties are broken by
 * the lower token id everywhere, so greedy decoding, top-k and a one-hot soft token agree.
 */

/** A numeric array the selection functions read. */
export type Values = Float32Array | Float64Array;

/** Index of the largest of values[0..n) (the lowest such index on ties). */
export function argmax(values: Values, n: number): number {
  let best = 0;
  let bestValue = values[0];
  for (let i = 1; i < n; i++) {
    if (values[i] > bestValue) {
      bestValue = values[i];
      best = i;
    }
  }
  return best;
}

/** Whether id a ranks below id b (smaller value, or equal value and larger id). */
function ranksBelow(values: Values, a: number, b: number): boolean {
  const va = values[a];
  const vb = values[b];
  return va < vb || (va === vb && a > b);
}

function siftDown(values: Values, heap: Int32Array, size: number, i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) return;
    const r = l + 1;
    const worst = r < size && ranksBelow(values, heap[r], heap[l]) ? r : l;
    if (!ranksBelow(values, heap[worst], heap[i])) return;
    const t = heap[i];
    heap[i] = heap[worst];
    heap[worst] = t;
    i = worst;
  }
}

/**
 * Writes the ids of the k largest of values[0..n) into out[0..k), best first, using a size-k
 * min-heap (O(n log k), no allocation). Returns the number written, min(k, n).
 */
export function topK(values: Values, n: number, k: number, out: Int32Array): number {
  k = Math.min(k, n);
  if (k <= 0) return 0;
  for (let i = 0; i < k; i++) out[i] = i;
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(values, out, k, i);
  for (let i = k; i < n; i++) {
    if (ranksBelow(values, out[0], i)) {
      out[0] = i;
      siftDown(values, out, k, 0);
    }
  }
  // Heap-sort in place: moving the worst to the back leaves the best first.
  for (let end = k - 1; end > 0; end--) {
    const t = out[0];
    out[0] = out[end];
    out[end] = t;
    siftDown(values, out, end, 0);
  }
  return k;
}

/** log Σ exp(values[i] · scale) over [0, n), computed stably. */
export function logSumExp(values: Values, n: number, scale = 1): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) if (values[i] > max) max = values[i];
  if (max === Number.NEGATIVE_INFINITY) return max;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp((values[i] - max) * scale);
  return max * scale + Math.log(sum);
}
