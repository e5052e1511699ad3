import type { Rng } from './rng.ts';

/**
 * Exploration noise for soft thinking. Gaussian noise perturbs the input embedding (Soft Tokens,
 * Hard Truths); Dirichlet and Gumbel-softmax perturb the mixture weights (Soft Thinking).
 */

/** n independent N(0, std²) coordinates: the additive embedding noise, std = γ·RMS(E). */
export function gaussianVector(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * rng.normal();
  return out;
}

/**
 * Replaces p[0..count) by a draw p' ~ Dir(α·p). Gamma variates are combined in log space: with
 * α·p_i down to 1e-12 they underflow in linear space (see Rng.logGamma).
 */
export function dirichletReweight(p: Float64Array, count: number, alpha: number, rng: Rng): void {
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < count; j++) {
    p[j] = rng.logGamma(alpha * p[j]);
    if (p[j] > max) max = p[j];
  }
  normaliseLog(p, count, max);
}

/** Replaces p[0..count) by softmax((log p + g) / τ_g) with g standard Gumbel. */
export function gumbelReweight(p: Float64Array, count: number, temperature: number, rng: Rng): void {
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < count; j++) {
    p[j] = (Math.log(p[j]) + rng.gumbel()) / temperature;
    if (p[j] > max) max = p[j];
  }
  normaliseLog(p, count, max);
}

/** In place: log-weights → probabilities. */
function normaliseLog(p: Float64Array, count: number, max: number): void {
  let sum = 0;
  for (let j = 0; j < count; j++) sum += p[j] = Math.exp(p[j] - max);
  for (let j = 0; j < count; j++) p[j] /= sum;
}
