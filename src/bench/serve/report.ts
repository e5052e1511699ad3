import { mean, percentile, table } from '../stats.ts';
import type { RequestResult } from './client.ts';
import { MODES, type Mode } from './workload.ts';

/**
 * The figures of a run, with vLLM's serving-benchmark definitions: throughputs over the run's
 * wall time, counting completed requests only; TPOT = (E2E − TTFT) / (output tokens − 1) per
 * request with more than one output token; ITL every gap pooled; goodput the completed requests
 * per second that meet every SLO given. Latencies are in ms; an empty set reports 0.
 */

/** Service-level objectives in ms, keyed as vLLM's `--goodput`. */
export interface Slo {
  ttft?: number;
  tpot?: number;
  e2el?: number;
}

export interface LatencySummary {
  /** Values the summary is over. */
  count: number;
  mean: number;
  median: number;
  /** Keyed `p50`, `p99`, `p99.9`… */
  percentiles: Record<string, number>;
}

export interface ModeRow {
  mode: Mode;
  requests: number;
  completed: number;
  failed: number;
  meanTtftMs: number;
  meanTpotMs: number;
}

export interface ServeFigures {
  requests: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Failures by type, each with the first message seen. */
  errors: Record<string, { count: number; example: string }>;
  durationS: number;
  totalPromptTokens: number;
  totalOutputTokens: number;
  totalReasoningTokens: number;
  requestThroughput: number;
  outputThroughput: number;
  totalTokenThroughput: number;
  /** null when no SLO was given. */
  goodput: number | null;
  slo: Slo | null;
  ttftMs: LatencySummary;
  tpotMs: LatencySummary;
  itlMs: LatencySummary;
  e2elMs: LatencySummary;
  modes: ModeRow[];
}

/** TPOT of one request, ms; null with fewer than two output tokens or no token at all. */
export function tpotMs(r: Pick<RequestResult, 'e2eMs' | 'ttftMs' | 'outputTokens'>): number | null {
  if (r.ttftMs === null || r.outputTokens < 2) return null;
  return (r.e2eMs - r.ttftMs) / (r.outputTokens - 1);
}

export function summarize(xs: readonly number[], percentiles: readonly number[]): LatencySummary {
  return {
    count: xs.length,
    mean: mean(xs),
    median: percentile(xs, 50),
    percentiles: Object.fromEntries(percentiles.map((p) => [`p${p}`, percentile(xs, p)])),
  };
}

/** Whether a completed request meets every SLO (a request without a TPOT meets the TPOT one). */
export function meetsSlo(r: RequestResult, slo: Slo): boolean {
  return (
    (slo.ttft === undefined || (r.ttftMs ?? Number.POSITIVE_INFINITY) <= slo.ttft) &&
    (slo.tpot === undefined || (tpotMs(r) ?? 0) <= slo.tpot) &&
    (slo.e2el === undefined || r.e2eMs <= slo.e2el)
  );
}

const isFailure = (r: RequestResult) => r.outcome !== 'ok' && r.outcome !== 'cancelled';

function errorCounts(results: readonly RequestResult[]): ServeFigures['errors'] {
  const errors: ServeFigures['errors'] = {};
  for (const r of results.filter(isFailure)) {
    const type = r.errorType ?? r.outcome;
    errors[type] ??= { count: 0, example: r.errorMessage ?? '' };
    errors[type].count++;
  }
  return errors;
}

function modeRows(results: readonly RequestResult[]): ModeRow[] {
  return MODES.flatMap((mode) => {
    const mine = results.filter((r) => r.mode === mode);
    if (mine.length === 0) return [];
    const ok = mine.filter((r) => r.outcome === 'ok');
    return [
      {
        mode,
        requests: mine.length,
        completed: ok.length,
        failed: mine.filter(isFailure).length,
        meanTtftMs: mean(ok.map((r) => r.ttftMs ?? 0)),
        meanTpotMs: mean(ok.flatMap((r) => tpotMs(r) ?? [])),
      },
    ];
  });
}

/** Every figure of a run from its results. */
export function computeFigures(
  results: readonly RequestResult[],
  durationMs: number,
  options: { percentiles: readonly number[]; slo?: Slo },
): ServeFigures {
  const ok = results.filter((r) => r.outcome === 'ok');
  const seconds = durationMs / 1000;
  const sum = (f: (r: RequestResult) => number) => ok.reduce((s, r) => s + f(r), 0);
  const totalPromptTokens = sum((r) => r.promptTokens);
  const totalOutputTokens = sum((r) => r.outputTokens);
  const rate = (n: number) => (seconds > 0 ? n / seconds : 0);
  const slo = options.slo && Object.keys(options.slo).length > 0 ? options.slo : null;
  return {
    requests: results.length,
    completed: ok.length,
    failed: results.filter(isFailure).length,
    cancelled: results.filter((r) => r.outcome === 'cancelled').length,
    errors: errorCounts(results),
    durationS: seconds,
    totalPromptTokens,
    totalOutputTokens,
    totalReasoningTokens: sum((r) => r.reasoningTokens),
    requestThroughput: rate(ok.length),
    outputThroughput: rate(totalOutputTokens),
    totalTokenThroughput: rate(totalPromptTokens + totalOutputTokens),
    goodput: slo ? rate(ok.filter((r) => meetsSlo(r, slo)).length) : null,
    slo,
    ttftMs: summarize(
      ok.flatMap((r) => r.ttftMs ?? []),
      options.percentiles,
    ),
    tpotMs: summarize(
      ok.flatMap((r) => tpotMs(r) ?? []),
      options.percentiles,
    ),
    itlMs: summarize(
      ok.flatMap((r) => r.itlMs),
      options.percentiles,
    ),
    e2elMs: summarize(
      ok.map((r) => r.e2eMs),
      options.percentiles,
    ),
    modes: modeRows(results),
  };
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

/** The figures as three plain-text tables: totals, latencies, per mode. */
export function formatFigures(f: ServeFigures): string {
  const totals: (string | number)[][] = [
    ['requests (completed / failed / cancelled)', `${f.completed} / ${f.failed} / ${f.cancelled}`],
    ['duration (s)', f2(f.durationS)],
    ['prompt tokens', f.totalPromptTokens],
    ['output tokens (reasoning)', `${f.totalOutputTokens} (${f.totalReasoningTokens})`],
    ['request throughput (req/s)', f2(f.requestThroughput)],
    ['output token throughput (tok/s)', f1(f.outputThroughput)],
    ['total token throughput (tok/s)', f1(f.totalTokenThroughput)],
  ];
  if (f.goodput !== null) {
    const slo = Object.entries(f.slo ?? {}).map(([k, v]) => `${k}≤${v}`);
    totals.push([`goodput (req/s, ${slo.join(' ')} ms)`, f2(f.goodput)]);
  }
  for (const [type, e] of Object.entries(f.errors)) totals.push([`failed: ${type}`, e.count]);
  const keys = Object.keys(f.ttftMs.percentiles);
  const row = (name: string, s: LatencySummary) => [
    name,
    s.count,
    f2(s.mean),
    f2(s.median),
    ...keys.map((k) => f2(s.percentiles[k]!)),
  ];
  const latencies = table(
    ['ms', 'n', 'mean', 'median', ...keys],
    [row('TTFT', f.ttftMs), row('TPOT', f.tpotMs), row('ITL', f.itlMs), row('E2E', f.e2elMs)],
  );
  const modes = table(
    ['mode', 'requests', 'completed', 'failed', 'mean TTFT ms', 'mean TPOT ms'],
    f.modes.map((m) => [m.mode, m.requests, m.completed, m.failed, f2(m.meanTtftMs), f2(m.meanTpotMs)]),
  );
  return [table(['figure', 'value'], totals), latencies, modes].join('\n\n');
}
