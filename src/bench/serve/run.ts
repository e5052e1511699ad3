import { deriveSeed } from '../../decoding/rng.ts';
import { nowMs } from '../stats.ts';
import { dispatch } from './arrivals.ts';
import { type RequestResult, streamChat } from './client.ts';
import type { ServeBenchOptions } from './options.ts';
import type { Progress } from './progress.ts';
import { computeFigures, formatFigures, type ServeFigures } from './report.ts';
import { type ServerSnapshot, waitForIdle } from './server-metrics.ts';
import { planCancels, resolveCancel, type SoakFigures, soakFigures } from './soak.ts';
import { planRequests } from './workload.ts';

/**
 * `reverie bench serve`: streams a planned mix of chat completions at a running server on the
 * chosen arrival schedule and reports vLLM's serving figures (and, for a soak, the leak checks).
 */

export interface ServeReport extends ServeFigures {
  bench: 'serve';
  profile: 'throughput' | 'soak';
  url: string;
  model: string;
  config: {
    numPrompts: number;
    /** null: no cap. */
    maxConcurrency: number | null;
    /** null: all at once. */
    requestRate: number | null;
    mix: Record<string, number>;
    maxTokens: number;
    thinkingMaxTokens: number | null;
    seed: number;
    percentiles: number[];
    cancelRate: number;
    distinctPrompts: boolean;
  };
  soak: SoakFigures | null;
}

/** The first model id the server lists. */
export async function firstModel(url: string, apiKey?: string): Promise<string> {
  const res = await fetch(`${url}/v1/models`, {
    headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
  }).catch((err: Error & { cause?: { code?: string; message?: string } }) => {
    throw new Error(`cannot reach ${url}: ${err.cause?.code ?? err.cause?.message ?? err.message}`);
  });
  if (!res.ok) throw new Error(`GET ${url}/v1/models answered ${res.status}`);
  const id = ((await res.json()) as { data?: { id?: string }[] }).data?.[0]?.id;
  if (!id) throw new Error(`GET ${url}/v1/models listed no model`);
  return id;
}

const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null);

/** Plans `o.numPrompts` requests (and their cancels) and sends them on the arrival schedule. */
async function sendAll(
  o: ServeBenchOptions & { model: string },
  server: { url: string; apiKey?: string; timeoutMs: number },
  progress?: Progress,
): Promise<{ results: RequestResult[]; durationMs: number; cancelsPlanned: number }> {
  const planned = planRequests(o);
  const cancels = o.cancelRate > 0 ? planCancels(o.numPrompts, o.cancelRate, o.maxTokens, o.seed) : [];
  const results: RequestResult[] = [];
  const runStartMs = nowMs();
  await dispatch(
    o.numPrompts,
    { requestRate: o.requestRate, maxConcurrency: o.maxConcurrency, seed: o.seed },
    async (i) => {
      const request = planned[i]!;
      const result = await streamChat({
        ...server,
        index: i,
        mode: request.mode,
        body: request.body,
        runStartMs,
        cancel: resolveCancel(cancels[i], request.mode, results),
      });
      results.push(result);
      progress?.ended(result.outcome);
    },
  );
  results.sort((a, b) => a.index - b.index);
  return { results, durationMs: nowMs() - runStartMs, cancelsPlanned: cancels.filter(Boolean).length };
}

/**
 * Runs the benchmark (or the soak) and returns its report.
 * @example const report = await benchServe({ ...options, url: 'http://127.0.0.1:8000' });
 */
export async function benchServe(o: ServeBenchOptions): Promise<ServeReport> {
  const model = o.model ?? (await firstModel(o.url, o.apiKey));
  const server = {
    url: o.url,
    apiKey: o.apiKey,
    timeoutMs: o.requestTimeoutMs,
    settleTimeoutMs: o.settleTimeoutMs,
  };
  let before: ServerSnapshot | null = null;
  if (o.soak) {
    // Same profile and concurrency, other prompts (a derived seed): the RSS baseline of the run.
    const seed = deriveSeed(o.seed, 0x3a);
    await sendAll({ ...o, model, seed, numPrompts: o.warmupPrompts }, server);
    before = (await waitForIdle(o.url, o.apiKey, o.settleTimeoutMs, Number.POSITIVE_INFINITY)).snapshot;
  }

  const { results, durationMs, cancelsPlanned } = await sendAll({ ...o, model }, server, o.progress);
  o.progress?.finish();

  let soak: SoakFigures | null = null;
  if (before) {
    const idle = await waitForIdle(o.url, o.apiKey, o.settleTimeoutMs, 0);
    soak = soakFigures(results, o.numPrompts, cancelsPlanned, before, idle.snapshot, idle.waitedMs, {
      warmupPrompts: o.warmupPrompts,
      maxRssGrowth: o.maxRssGrowth,
    });
  }
  return {
    bench: 'serve',
    profile: o.soak ? 'soak' : 'throughput',
    url: o.url,
    model,
    config: {
      numPrompts: o.numPrompts,
      maxConcurrency: finiteOrNull(o.maxConcurrency),
      requestRate: finiteOrNull(o.requestRate),
      mix: Object.fromEntries(o.mix),
      maxTokens: o.maxTokens,
      thinkingMaxTokens: o.thinkingMaxTokens ?? null,
      seed: o.seed,
      percentiles: o.percentiles,
      cancelRate: o.cancelRate,
      distinctPrompts: o.distinctPrompts,
    },
    ...computeFigures(results, durationMs, { percentiles: o.percentiles, slo: o.slo }),
    soak,
  };
}

const mib = (bytes: number | null) =>
  bytes === null ? 'unavailable' : `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The report as plain text: the run's settings, the figures and, for a soak, its checks. */
export function formatReport(r: ServeReport): string {
  const c = r.config;
  const arrivals =
    `${c.requestRate === null ? 'all at once' : `Poisson ${c.requestRate} req/s`}, ` +
    `max concurrency ${c.maxConcurrency ?? 'unbounded'}`;
  const mix = Object.entries(c.mix)
    .map(([m, w]) => `${m}=${w}`)
    .join(',');
  const lines = [
    `bench serve (${r.profile}): ${r.url}, model ${r.model}, ${c.numPrompts} requests, ${arrivals}, ` +
      `mix ${mix}, max_tokens ${c.maxTokens}`,
    '',
    formatFigures(r),
  ];
  if (r.soak) {
    const s = r.soak;
    lines.push(
      '',
      `soak: cancelled ${s.cancelled} (planned ${s.cancelsPlanned}), lost ${s.lost}, hung ${s.hung}; ` +
        `after ${Math.round(s.settleMs)} ms: KV usage ${s.after.kvUsage} (before ${s.before.kvUsage}), ` +
        `running ${s.after.running}, ` +
        `waiting ${s.after.waiting}; ` +
        (s.rssRatio === null
          ? 'server RSS unavailable (no process_resident_memory_bytes)'
          : `server RSS after ${s.warmupPrompts} warm-up requests ${mib(s.before.rssBytes)} → after the run ` +
            `${mib(s.after.rssBytes)} (×${s.rssRatio.toFixed(3)}, at most ×${s.maxRssGrowth})`),
      s.problems.length === 0 ? 'soak: PASS' : `soak: FAIL\n${s.problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
  return lines.join('\n');
}
