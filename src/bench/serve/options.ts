import { z } from 'zod';
import type { Progress } from './progress.ts';
import type { Slo } from './report.ts';
import { type ChatMessage, loadPrompts, type ModeMix, parseMix } from './workload.ts';

/** Options of a `reverie bench serve` run, and the zod schema that builds them from the flags. */

export interface ServeBenchOptions {
  /** Server base URL, without `/v1`. */
  url: string;
  /** Default: the first id of `GET /v1/models`. */
  model?: string;
  apiKey?: string;
  numPrompts: number;
  /** `Infinity`: no cap. */
  maxConcurrency: number;
  /** Requests per second (Poisson arrivals); `Infinity`: all at once, under the cap. */
  requestRate: number;
  mix: ModeMix;
  maxTokens: number;
  thinkingMaxTokens?: number;
  /** Fields merged into every request body (vLLM's `--extra-body`), e.g. `{"skip_special_tokens": false}`. */
  extraBody?: Record<string, unknown>;
  seed: number;
  prompts?: ChatMessage[][];
  slo?: Slo;
  percentiles: number[];
  requestTimeoutMs: number;
  /** Share of requests the client cancels at a random point (0..1). */
  cancelRate: number;
  /** Soak checks: server metrics before and after, lost/hung/KV verdict. */
  soak: boolean;
  /** Soak: requests of the same profile and concurrency run first, to measure RSS from (0: none). */
  warmupPrompts: number;
  /** Soak: server RSS after the run may be at most this times its RSS after the warm-up. */
  maxRssGrowth: number;
  /** Every request gets its own prompt (generated from the built-in tasks), so the prefix cache fills. */
  distinctPrompts: boolean;
  /** Soak: how long to wait for the server to go idle after the run. */
  settleTimeoutMs: number;
  progress?: Progress;
}

/**
 * Parses `ttft:500,tpot:50,e2el:4000` (commas or spaces, as vLLM's `--goodput`) into SLOs in ms.
 * @throws Error naming the bad entry
 */
export function parseSlo(text: string): Slo {
  const slo: Slo = {};
  for (const entry of text.split(/[\s,]+/).filter(Boolean)) {
    const match = /^(ttft|tpot|e2el):(\d+(?:\.\d+)?)$/.exec(entry);
    if (!match) throw new Error(`goodput entry "${entry}" is not ttft|tpot|e2el:MS (e.g. ttft:500)`);
    slo[match[1] as keyof Slo] = Number(match[2]);
  }
  return slo;
}

/** Turns a parser that throws into a zod transform that reports the message as an issue. */
export function parsed<T>(parse: (s: string) => T) {
  return (s: string, ctx: z.RefinementCtx): T => {
    try {
      return parse(s);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
      return z.NEVER;
    }
  };
}

/** A soak's warm-up: a tenth of the run, and at least two rounds of its concurrency. */
export function defaultWarmup(numPrompts: number, maxConcurrency: number): number {
  const rounds = Number.isFinite(maxConcurrency) ? 2 * maxConcurrency : 0;
  return Math.max(rounds, Math.ceil(numPrompts / 10));
}

const count = z.coerce.number().int().positive();
const positive = z.coerce.number().positive();

/** The command line's string values (node:util parseArgs) → options. */
export const serveFlagsSchema = z
  .strictObject({
    url: z.url().default('http://127.0.0.1:8000'),
    model: z.string().min(1).optional(),
    'api-key': z.string().min(1).optional(),
    'num-prompts': count.default(200),
    'max-concurrency': count.optional(),
    'request-rate': positive.optional(),
    mix: z.string().default('discrete=2,soft=1,superposed=1').transform(parsed(parseMix)),
    'max-tokens': count.default(64),
    'thinking-max-tokens': count.optional(),
    'extra-body': z
      .string()
      .transform(parsed((text) => JSON.parse(text) as unknown))
      .pipe(z.record(z.string(), z.unknown()))
      .optional(),
    seed: z.coerce.number().int().default(0),
    prompts: z.string().transform(parsed(loadPrompts)).optional(),
    goodput: z.string().transform(parsed(parseSlo)).optional(),
    percentiles: z
      .string()
      .default('99')
      .transform(parsed((s) => s.split(',').map(Number)))
      .pipe(z.array(z.number().gt(0).lt(100)).min(1)),
    'request-timeout': positive.default(60),
    'cancel-rate': z.coerce.number().min(0).max(1).optional(),
    warmup: z.coerce.number().int().min(0).optional(),
    'max-rss-growth': z.coerce.number().min(1).default(1.2),
    'distinct-prompts': z.boolean().default(false),
    soak: z.boolean().default(false),
    profile: z.enum(['throughput', 'soak']).optional(),
    json: z.boolean().default(false),
    'json-out': z.string().min(1).optional(),
    'fail-on-error': z.boolean().default(false),
  })
  .transform((f) => {
    const soak = f.soak || f.profile === 'soak';
    // vLLM sends everything at once without a cap; here a run without a rate is capped at 8.
    const maxConcurrency =
      f['max-concurrency'] ?? (f['request-rate'] === undefined ? 8 : Number.POSITIVE_INFINITY);
    const options: ServeBenchOptions = {
      url: f.url.replace(/\/+$/, ''),
      model: f.model,
      apiKey: f['api-key'] ?? process.env.OPENAI_API_KEY,
      numPrompts: f['num-prompts'],
      maxConcurrency,
      requestRate: f['request-rate'] ?? Number.POSITIVE_INFINITY,
      mix: f.mix,
      maxTokens: f['max-tokens'],
      thinkingMaxTokens: f['thinking-max-tokens'],
      extraBody: f['extra-body'],
      seed: f.seed,
      prompts: f.prompts,
      slo: f.goodput,
      percentiles: f.percentiles,
      requestTimeoutMs: f['request-timeout'] * 1000,
      cancelRate: f['cancel-rate'] ?? (soak ? 0.2 : 0),
      soak,
      warmupPrompts: f.warmup ?? (soak ? defaultWarmup(f['num-prompts'], maxConcurrency) : 0),
      maxRssGrowth: f['max-rss-growth'],
      distinctPrompts: f['distinct-prompts'],
      settleTimeoutMs: 5_000,
    };
    return { options, json: f.json, jsonOut: f['json-out'], failOnError: f['fail-on-error'] };
  });
