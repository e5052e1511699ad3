import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { serveFlagsSchema } from '../bench/serve/options.ts';
import { stderrProgress } from '../bench/serve/progress.ts';
import { benchServe, formatReport } from '../bench/serve/run.ts';

export const BENCH_SERVE_USAGE = `usage: reverie bench serve [options]
  --url URL                 server (default http://127.0.0.1:8000)
  --model ID                default: the first of GET /v1/models
  --api-key KEY             bearer key (default: $OPENAI_API_KEY)
  --num-prompts N           requests (default 200)
  --max-concurrency C       requests in flight (default 8 without --request-rate, else no cap)
  --request-rate R          Poisson arrivals, requests/s (default: all at once under the cap)
  --mix MODE=W,...          discrete, hard, soft, fuzzy, latent, superposed (default discrete=2,soft=1,superposed=1)
  --max-tokens N            answer tokens per request (default 64)
  --thinking-max-tokens N   thinking budget of hard/soft/fuzzy/latent (default: the checkpoint's)
  --extra-body JSON         fields merged into every request, e.g. '{"skip_special_tokens":false}'
  --prompts FILE            JSONL: a string, {"prompt": ...} or {"messages": [...]} per line
  --seed N                  arrivals, prompts, sampling seeds and cancels (default 0)
  --goodput ttft:MS,tpot:MS,e2el:MS   SLOs for goodput
  --percentiles P,...       (default 99)
  --request-timeout S       a request still open after S seconds is hung (default 60)
  --soak | --profile soak   cancel some requests, then check lost = hung = 0, KV back to 0
                            and server RSS after the run ≤ --max-rss-growth × RSS after a warm-up
  --cancel-rate F           share of requests cancelled by the client (soak default 0.2)
  --warmup N                soak: requests of the same profile and concurrency first (default:
                            a tenth of --num-prompts, at least 2 × --max-concurrency)
  --max-rss-growth F        soak: RSS after the run / RSS after the warm-up allowed (default 1.2)
  --distinct-prompts        every request its own prompt (built-in tasks, random operands)
  --json                    one JSON object on stdout (the table goes to stderr)
  --json-out FILE           write the JSON object to FILE
  --fail-on-error           exit 1 when any request failed`;

const FLAGS = [
  'url',
  'model',
  'api-key',
  'num-prompts',
  'max-concurrency',
  'request-rate',
  'mix',
  'max-tokens',
  'thinking-max-tokens',
  'extra-body',
  'prompts',
  'seed',
  'goodput',
  'percentiles',
  'request-timeout',
  'cancel-rate',
  'warmup',
  'max-rss-growth',
  'profile',
  'json-out',
] as const;
const SWITCHES = ['soak', 'json', 'fail-on-error', 'distinct-prompts'] as const;

function usageError(message: string): void {
  process.stderr.write(`reverie bench serve: ${message}\n\n${BENCH_SERVE_USAGE}\n`);
  process.exitCode = 2;
}

/**
 * `reverie bench serve …`: load a running server and print the figures. Exit 2 on bad flags;
 * 1 when a soak finds a problem, or with `--fail-on-error` when a request failed.
 */
export async function benchServeCommand(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(BENCH_SERVE_USAGE);
    return;
  }
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: argv,
      options: Object.fromEntries([
        ...FLAGS.map((f) => [f, { type: 'string' as const }]),
        ...SWITCHES.map((f) => [f, { type: 'boolean' as const }]),
      ]),
    }).values;
  } catch (err) {
    usageError(err instanceof Error ? err.message : String(err));
    return;
  }
  const parsed = serveFlagsSchema.safeParse(values);
  if (!parsed.success) {
    usageError(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('\n'));
    return;
  }
  const { options, json, jsonOut, failOnError } = parsed.data;
  const report = await benchServe({ ...options, progress: stderrProgress(options.numPrompts) });
  const text = formatReport(report);
  if (json) {
    process.stderr.write(`${text}\n`);
    console.log(JSON.stringify(report));
  } else {
    console.log(text);
  }
  if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(report, null, 2)}\n`);
  if ((report.soak && report.soak.problems.length > 0) || (failOnError && report.failed > 0)) {
    process.exitCode = 1;
  }
}
