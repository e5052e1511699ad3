/**
 * pass@k and its uncertainty.
 *
 * pass@k of one question with n samples of which c are right is estimated without bias by
 * 1 − C(n−c, k) / C(n, k) (Chen et al. 2021, "Evaluating Large Language Models Trained on Code"),
 * computed as a product so that no binomial coefficient overflows. A task's pass@k is the mean
 * over its questions.
 */

import { Rng } from '../decoding/rng.ts';

/**
 * The unbiased pass@k estimator for one question.
 * @example passAtK(32, 4, 8) // ≈ 0.6826
 * @throws RangeError when k > n or c is outside 0..n
 */
export function passAtK(n: number, c: number, k: number): number {
  if (
    !Number.isInteger(n) ||
    !Number.isInteger(c) ||
    !Number.isInteger(k) ||
    k < 1 ||
    k > n ||
    c < 0 ||
    c > n
  ) {
    throw new RangeError(`pass@k needs integers 1 ≤ k ≤ n and 0 ≤ c ≤ n, got n=${n} c=${c} k=${k}`);
  }
  if (n - c < k) return 1;
  if (k === 1) return c / n;
  // C(n−c, k) / C(n, k) = Π_{i=n−c+1}^{n} (1 − k / i)
  let miss = 1;
  for (let i = n - c + 1; i <= n; i++) miss *= 1 - k / i;
  return 1 - miss;
}

/** A proportion with its 95% interval. */
export interface Estimate {
  value: number;
  low: number;
  high: number;
}

/** z of a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

/**
 * Wilson score interval of a mean of m values in [0, 1] (m questions). For 0/1 values it is the
 * usual Wilson interval of a binomial proportion; for per-question pass@k estimates in [0, 1] it
 * is conservative, since a variable in [0, 1] with mean p has variance at most p(1 − p). Unlike
 * the normal approximation it stays inside [0, 1] and does not collapse to a point at 0 or 1.
 * @example wilson(0.9, 100) // { value: 0.9, low: 0.8256, high: 0.9448 }
 */
export function wilson(mean: number, m: number, z = Z95): Estimate {
  if (m <= 0) return { value: Number.NaN, low: 0, high: 1 };
  const z2 = z * z;
  const centre = (mean + z2 / (2 * m)) / (1 + z2 / m);
  const half = (z / (1 + z2 / m)) * Math.sqrt((mean * (1 - mean)) / m + z2 / (4 * m * m));
  return { value: mean, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/**
 * pass@k over a task: the mean of the per-question estimates, with its Wilson interval.
 * @param correct for each question, how many of its `n` samples were right
 */
export function taskPassAtK(correct: readonly number[], n: number, k: number): Estimate {
  if (correct.length === 0) return { value: Number.NaN, low: 0, high: 1 };
  let sum = 0;
  for (const c of correct) sum += passAtK(n, c, k);
  return wilson(sum / correct.length, correct.length);
}

/**
 * The difference in pass@k between two systems on the same questions, mean of the per-question
 * differences (b − a), with a 95% percentile-bootstrap interval over questions (resampled with a
 * fixed seed, so the same data give the same interval). Pairing removes the spread of question
 * difficulty that two independent intervals both carry: near a ceiling, where most questions are
 * solved by both, their intervals overlap even when one system is better on every question that
 * differs.
 * @param a for each question, how many of system a's `n` samples were right
 * @param b the same for system b, question for question
 */
export function pairedPassAtKDifference(
  a: readonly number[],
  b: readonly number[],
  n: number,
  k: number,
  resamples = 10_000,
): Estimate {
  if (a.length !== b.length) throw new RangeError(`paired questions: ${a.length} against ${b.length}`);
  const m = a.length;
  if (m === 0) return { value: Number.NaN, low: -1, high: 1 };
  const d = a.map((c, i) => passAtK(n, b[i]!, k) - passAtK(n, c, k));
  const total = d.reduce((x, y) => x + y, 0);
  const rng = new Rng(20261205);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < m; i++) sum += d[Math.floor(rng.next() * m)]!;
    means[r] = sum / m;
  }
  means.sort();
  const at = (q: number) => means[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))]!;
  return { value: total / m, low: at(0.025), high: at(0.975) };
}
