import { deriveSeed, Rng } from '../../decoding/rng.ts';
import type { CancelPlan, RequestResult } from './client.ts';
import type { ServerSnapshot } from './server-metrics.ts';
import type { Mode } from './workload.ts';

/**
 * The soak profile: a share of the requests cancelled by the client at a random point, then the
 * checks that nothing leaked. Lost (the server dropped a stream) and hung (no ending within the
 * request timeout) must be 0, and the server must go back to no running or waiting request and
 * to KV usage 0 (`reverie_kv_cache_usage_perc` counts blocks held by requests; idle prefix-cache
 * blocks are reclaimable and reported apart).
 *
 * A warm-up of the same profile and concurrency runs first (other prompts), so first-use
 * allocations (graph buffers, JIT, the allocator's arenas at that concurrency) are in the baseline;
 * the server's RSS after the run must stay within `maxRssGrowth` times its RSS after the warm-up.
 */

export interface SoakFigures {
  cancelsPlanned: number;
  /** Requests the client did cancel (a planned cancel after the request ended does nothing). */
  cancelled: number;
  lost: number;
  hung: number;
  /** After the warm-up, before the run. */
  before: ServerSnapshot;
  after: ServerSnapshot;
  /** How long the server took to go idle after the run (or the time given up after), ms. */
  settleMs: number;
  /** Requests of the warm-up (the RSS baseline). */
  warmupPrompts: number;
  /** null when the server does not expose `process_resident_memory_bytes`. */
  rssGrowthBytes: number | null;
  /** RSS after the run / RSS after the warm-up; null without the gauge. */
  rssRatio: number | null;
  maxRssGrowth: number;
  /** Everything that failed the soak; empty when it passed. */
  problems: string[];
}

/**
 * A planned cancel: after a number of token chunks, or at a fraction of the mean E2E latency of
 * the requests of its mode completed so far (so the point falls inside a request on any server).
 */
export type SoakCancel = { afterChunks: number } | { atFraction: number };

/** Which requests to cancel: each with probability `rate`, half by chunks (1…maxTokens/2), half by time. */
export function planCancels(
  count: number,
  rate: number,
  maxTokens: number,
  seed: number,
): (SoakCancel | undefined)[] {
  const rng = new Rng(deriveSeed(seed, 0xca));
  return Array.from({ length: count }, () => {
    if (rng.next() >= rate) return undefined;
    return rng.next() < 0.5
      ? { afterChunks: 1 + Math.floor(rng.next() * Math.max(1, maxTokens / 2)) }
      : { atFraction: rng.next() };
  });
}

/** Typical request time before any request has completed, ms. */
const FIRST_GUESS_MS = 1000;

/** The cancel as the client applies it, given the results so far. */
export function resolveCancel(
  cancel: SoakCancel | undefined,
  mode: Mode,
  results: readonly RequestResult[],
): CancelPlan | undefined {
  if (!cancel || 'afterChunks' in cancel) return cancel;
  const done = results.filter((r) => r.outcome === 'ok');
  const mine = done.filter((r) => r.mode === mode);
  const pool = mine.length > 0 ? mine : done;
  const typical = pool.length > 0 ? pool.reduce((s, r) => s + r.e2eMs, 0) / pool.length : FIRST_GUESS_MS;
  return { afterMs: Math.floor(cancel.atFraction * typical) };
}

/** The soak's verdict from the results and the server's state before and after. */
export function soakFigures(
  results: readonly RequestResult[],
  requested: number,
  cancelsPlanned: number,
  before: ServerSnapshot,
  after: ServerSnapshot,
  settleMs: number,
  limits: { warmupPrompts: number; maxRssGrowth: number },
): SoakFigures {
  const count = (outcome: RequestResult['outcome']) => results.filter((r) => r.outcome === outcome).length;
  const lost = count('lost') + (requested - results.length);
  const hung = count('timeout');
  const problems: string[] = [];
  if (lost > 0) problems.push(`${lost} request(s) lost: the stream closed without [DONE] or an error`);
  if (hung > 0) problems.push(`${hung} request(s) hung past the request timeout`);
  if (after.kvUsage === null || after.running === null) {
    problems.push('the server exposes no reverie_kv_cache_usage_perc / reverie_num_requests_running');
  } else if (after.running !== 0 || after.waiting !== 0 || after.kvUsage !== 0) {
    problems.push(
      `the server is not back to idle ${Math.round(settleMs)} ms after the run: KV usage ${after.kvUsage}, ` +
        `running ${after.running}, waiting ${after.waiting}`,
    );
  }
  const rss =
    before.rssBytes !== null && after.rssBytes !== null
      ? { before: before.rssBytes, after: after.rssBytes }
      : null;
  const rssRatio = rss ? rss.after / rss.before : null;
  if (rssRatio !== null && rssRatio > limits.maxRssGrowth) {
    problems.push(
      `server RSS grew ×${rssRatio.toFixed(3)} over the run (after the warm-up ${rss!.before} B, after the run ${rss!.after} B), more than ×${limits.maxRssGrowth}`,
    );
  }
  return {
    cancelsPlanned,
    cancelled: count('cancelled'),
    lost,
    hung,
    before,
    after,
    settleMs,
    warmupPrompts: limits.warmupPrompts,
    rssGrowthBytes: rss ? rss.after - rss.before : null,
    rssRatio,
    maxRssGrowth: limits.maxRssGrowth,
    problems,
  };
}
