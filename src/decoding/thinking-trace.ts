import type { Scratch } from './scratch.ts';
import { argmax, logSumExp, topK } from './top-k.ts';
import type { BagInput, DecodingTokenizer, StepTrace } from './types.ts';

/**
 * Entropy (nats) of softmax(logits[0..n)) at temperature 1: the model's own uncertainty. Cold
 * Stop reads this rather than the distribution at the thinking τ, because at fuzzy τ = 1e-4 that
 * distribution is one-hot whatever the model believes, and Cold Stop would fire on every request.
 */
export function entropy(logits: Float32Array, n: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
  // H = log S − (Σ e^d · d) / S with d = l − max and S = Σ e^d: one exp per token.
  let s = 0;
  let sd = 0;
  for (let i = 0; i < n; i++) {
    const d = logits[i] - max;
    if (d < -40) continue; // e^−40 · 40 is below float64 resolution next to the max's term
    const e = Math.exp(d);
    s += e;
    sd += e * d;
  }
  return Math.max(0, Math.log(s) - sd / s);
}

/**
 * A step's trace: its shadow token and the `k` heaviest tokens of softmax(logits / τ), each with
 * `p`, its weight in that distribution (before truncation and noise; τ = 0 reports the one-hot
 * argmax), and `fed`, its weight in the bag the step feeds next (after truncation,
 * renormalisation and Dirichlet/Gumbel noise; 0 when truncated away or for a latent thought).
 */
export function traceStep(options: {
  logits: Float32Array;
  n: number;
  temperature: number;
  k: number;
  shadowId: number;
  entropy: number;
  /** The input this step feeds. */
  fed: BagInput;
  tokenizer: DecodingTokenizer;
  scratch: Scratch;
}): StepTrace {
  const { logits, n, temperature, tokenizer } = options;
  const top: StepTrace['top'] = [];
  const traced = (id: number, p: number) => top.push({ id, token: tokenizer.tokenText(id), p, fed: 0 });
  if (temperature === 0) {
    traced(argmax(logits, n), 1);
  } else {
    const ids = options.scratch.int32('trace-top', options.k);
    const count = topK(logits, n, options.k, ids);
    const lse = logSumExp(logits, n, 1 / temperature);
    for (let j = 0; j < count; j++) traced(ids[j], Math.exp(logits[ids[j]] / temperature - lse));
  }
  addFedWeights(top, options.fed);
  return {
    shadowId: options.shadowId,
    shadowToken: tokenizer.tokenText(options.shadowId),
    top,
    entropy: options.entropy,
  };
}

/** Sets each traced token's `fed` to its weight in the bag: one pass over the bag, which may be long. */
function addFedWeights(top: StepTrace['top'], bag: BagInput): void {
  const byId = new Map(top.map((t) => [t.id, t]));
  for (let j = 0; j < bag.ids.length; j++) {
    const t = byId.get(bag.ids[j]);
    if (t) t.fed += bag.weights[j];
  }
}
