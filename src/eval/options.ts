import { z } from 'zod';
import { parsed } from '../bench/serve/options.ts';
import { parseModes } from './modes.ts';

/** The flags of `reverie eval` and the zod schema that turns node:util's strings into options. */

export const EVAL_USAGE = `usage: reverie eval --task reachability|arithmetic|arithmetic-4digit|arithmetic-phrasings|FILE.jsonl [options]
  --url URL                 server (default http://127.0.0.1:8000)
  --model ID                default: the first of GET /v1/models
  --api-key KEY             bearer key (default: $OPENAI_API_KEY)
  --task T                  a built-in task (evals/T.jsonl) or a JSONL file of {"question", "answer", "group"?}
  --modes M,...             hard, soft, fuzzy, latent, off (default: the model's thinking modes)
  --k K,...                 pass@k to report (default 1,8,32); max(k) samples per question and mode
  --greedy-only             only the greedy answer per question and mode (no samples, no pass@k)
  --n N                     the first N questions (default: all)
  --budgets B,...           also greedy accuracy at these thinking budgets (positions), e.g. 1,2,4,8,16
  --max-tokens N            answer tokens after thinking (default 32; a request's max_tokens is the thinking budget + 1 + N)
  --thinking-max-tokens N   thinking budget (default: the checkpoint's)
  --concurrency C           requests in flight (default 8)
  --max-n N                 most samples in one request (default 16, the server's REVERIE_MAX_N)
  --seed N                  sampling seeds (default 0)
  --request-timeout S       seconds before a request counts as failed (default 300)
  --json                    the report as one JSON object on stdout (tables go to stderr)
  --json-out FILE           also write the JSON report to FILE
  --plot FILE.svg           pass@k per mode (and accuracy vs thinking budget with --budgets)`;

const count = z.coerce.number().int().positive();
const list = (s: string) =>
  s.split(',').map((x) => {
    const v = Number(x.trim());
    if (!Number.isInteger(v) || v < 1) throw new Error(`"${x}" is not a positive integer`);
    return v;
  });

export const evalFlagsSchema = z
  .strictObject({
    url: z.url().default('http://127.0.0.1:8000'),
    model: z.string().min(1).optional(),
    'api-key': z.string().min(1).optional(),
    task: z.string({ error: 'is required' }).min(1),
    modes: z.string().transform(parsed(parseModes)).optional(),
    k: z
      .string()
      .default('1,8,32')
      .transform(parsed(list))
      .refine((ks) => Math.max(...ks) <= 1024, 'at most 1024 samples per question (max k ≤ 1024)'),
    n: count.optional(),
    budgets: z.string().transform(parsed(list)).optional(),
    'max-tokens': count.default(32),
    'thinking-max-tokens': count.optional(),
    concurrency: count.default(8),
    'max-n': count.max(128).default(16),
    seed: z.coerce.number().int().min(0).default(0),
    'request-timeout': z.coerce.number().positive().default(300),
    json: z.boolean().default(false),
    'json-out': z.string().min(1).optional(),
    plot: z.string().min(1).optional(),
    'greedy-only': z.boolean().default(false),
  })
  .transform((f) => ({
    url: f.url.replace(/\/+$/, ''),
    model: f.model,
    apiKey: f['api-key'] ?? process.env.OPENAI_API_KEY,
    task: f.task,
    modes: f.modes,
    ks: f['greedy-only'] ? [] : [...new Set(f.k)].sort((a, b) => a - b),
    n: f.n,
    budgets: [...new Set(f.budgets ?? [])].sort((a, b) => a - b),
    maxTokens: f['max-tokens'],
    thinkingMaxTokens: f['thinking-max-tokens'],
    concurrency: f.concurrency,
    maxN: f['max-n'],
    seed: f.seed,
    timeoutMs: f['request-timeout'] * 1000,
    json: f.json,
    jsonOut: f['json-out'],
    plot: f.plot,
  }));
export type EvalFlags = z.output<typeof evalFlagsSchema>;
