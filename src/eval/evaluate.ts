import type { Progress } from '../bench/serve/progress.ts';
import { firstModel } from '../bench/serve/run.ts';
import { EVAL_MODES, type EvalMode } from './modes.ts';
import type { EvalFlags } from './options.ts';
import { type EvalReport, summarise } from './report.ts';
import { plannedRequests, runEval } from './run.ts';
import { loadTask } from './tasks.ts';

/** `reverie eval` without the command line: resolve the model and its modes, run, summarise. */

/** What `reverie eval` needs of a served model (`GET /v1/models/{id}`). */
interface ServedModel {
  /** the thinking modes it supports, in EVAL_MODES order */
  modes: EvalMode[];
  /** its default thinking budget, when it declares one */
  thinkingMaxTokens: number | undefined;
}

/** The thinking modes a served model supports (`GET /v1/models/{id}`), in EVAL_MODES order. */
export async function servedThinkingModes(url: string, model: string, apiKey?: string): Promise<EvalMode[]> {
  return (await servedModel(url, model, apiKey)).modes;
}

async function servedModel(url: string, model: string, apiKey?: string): Promise<ServedModel> {
  const res = await fetch(`${url}/v1/models/${encodeURIComponent(model)}`, {
    headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
  }).catch((err: Error & { cause?: { code?: string; message?: string } }) => {
    throw new Error(`cannot reach ${url}: ${err.cause?.code ?? err.cause?.message ?? err.message}`);
  });
  if (!res.ok) throw new Error(`GET ${url}/v1/models/${model} answered ${res.status}`);
  const body = (await res.json()) as { modes?: string[]; defaults?: { thinking_max_tokens?: unknown } };
  const modes = new Set(body.modes ?? []);
  const budget = body.defaults?.thinking_max_tokens;
  return {
    modes: EVAL_MODES.filter((m) => (m === 'off' ? false : modes.has(m))),
    thinkingMaxTokens: typeof budget === 'number' ? budget : undefined,
  };
}

/**
 * Evaluates one model on one task through the server.
 * @throws Error when the server cannot be reached, a mode is not supported, or the task is bad
 */
export async function evaluate(
  f: Omit<EvalFlags, 'json' | 'jsonOut' | 'plot'>,
  progress?: (total: number) => Progress,
): Promise<EvalReport> {
  const model = f.model ?? (await firstModel(f.url, f.apiKey));
  const served = await servedModel(f.url, model, f.apiKey);
  const supported = served.modes;
  const modes = f.modes ?? supported;
  for (const m of modes) {
    if (m !== 'off' && !supported.includes(m)) {
      throw new Error(
        `model ${model} does not support thinking mode "${m}" (it supports: ${supported.join(', ') || 'none'})`,
      );
    }
  }
  if (modes.length === 0) throw new Error(`model ${model} has no thinking mode; pass --modes off`);
  const task = loadTask(f.task, f.n);
  const options = {
    url: f.url,
    apiKey: f.apiKey,
    model,
    questions: task.questions,
    modes,
    ks: f.ks,
    budgets: f.budgets,
    maxTokens: f.maxTokens,
    // the budget each request's max_tokens is sized from (max_tokens bounds thinking and answer)
    thinkingMaxTokens: f.thinkingMaxTokens ?? served.thinkingMaxTokens,
    concurrency: f.concurrency,
    maxN: f.maxN,
    seed: f.seed,
    timeoutMs: f.timeoutMs,
  };
  const run = await runEval({ ...options, progress: progress?.(plannedRequests(options)) });
  return summarise(options, task.name, run);
}
