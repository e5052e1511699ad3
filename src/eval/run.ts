import { dispatch } from '../bench/serve/arrivals.ts';
import { type RequestResult, streamChat } from '../bench/serve/client.ts';
import type { Progress } from '../bench/serve/progress.ts';
import { nowMs } from '../bench/stats.ts';
import { deriveSeed } from '../decoding/rng.ts';
import { type EvalMode, greedyRequest, sampledRequest } from './modes.ts';
import type { Question } from './tasks.ts';
import { isCorrectAnswer } from './verify.ts';

/**
 * Sends every question of a task through a running server's OpenAI API, concurrently, in each
 * thinking mode: one greedy answer (pass@1 greedy), `max(k)` sampled answers in requests of up to
 * `maxN` choices sharing the prompt (pass@k), and one greedy answer per thinking budget of the sweep.
 */

export interface EvalOptions {
  url: string;
  apiKey?: string;
  model: string;
  questions: readonly Question[];
  modes: readonly EvalMode[];
  /** pass@k for these k; each question gets max(k) samples per mode. Empty: greedy answers only. */
  ks: readonly number[];
  /** Greedy accuracy at each of these thinking budgets (positions); empty: no sweep. */
  budgets: readonly number[];
  /** Answer tokens. */
  maxTokens: number;
  /** Thinking budget of the greedy and sampled requests; the checkpoint's default when absent. */
  thinkingMaxTokens?: number;
  concurrency: number;
  /** Most choices one request may ask for (the server's REVERIE_MAX_N, 16 by default). */
  maxN: number;
  seed: number;
  timeoutMs: number;
  progress?: Progress;
}

/** What one mode did on one question. */
export interface QuestionOutcome {
  greedyCorrect: boolean;
  /** The greedy answer's text (message content). */
  greedyAnswer: string;
  /** Thinking tokens of the greedy answer. */
  greedyThinkingTokens: number;
  /** End-to-end latency of the greedy request, ms. */
  greedyLatencyMs: number;
  /** Right answers among the samples. */
  sampledCorrect: number;
  /** Thinking tokens of all the sampled answers together. */
  sampledThinkingTokens: number;
  /** Greedy correctness at each budget of the sweep, in the order of `budgets`. */
  budgetCorrect: boolean[];
}

/** A request that did not end well. */
export interface EvalFailure {
  mode: EvalMode;
  question: number;
  kind: 'greedy' | 'sampled' | 'budget';
  error: string;
}

export interface EvalRun {
  /** Samples per question and mode (max k; 0 when greedy only). */
  samples: number;
  /** outcomes[mode][question] */
  outcomes: Record<string, QuestionOutcome[]>;
  failures: EvalFailure[];
  durationMs: number;
  requests: number;
}

/** The request count of a run, for the progress bar. */
export function plannedRequests(
  o: Pick<EvalOptions, 'questions' | 'modes' | 'budgets' | 'ks' | 'maxN'>,
): number {
  const samples = o.ks.length > 0 ? Math.max(...o.ks) : 0;
  return o.questions.length * o.modes.length * (1 + Math.ceil(samples / o.maxN) + o.budgets.length);
}

/**
 * Runs the evaluation.
 * @example const run = await runEval({ url, model: 'm', questions, modes: ['hard'], ks: [1, 8], budgets: [], maxTokens: 16, concurrency: 8, maxN: 16, seed: 0, timeoutMs: 120_000 });
 */
export async function runEval(o: EvalOptions): Promise<EvalRun> {
  const samples = o.ks.length > 0 ? Math.max(...o.ks) : 0;
  const outcomes: Record<string, QuestionOutcome[]> = {};
  for (const mode of o.modes) {
    outcomes[mode] = o.questions.map(() => ({
      greedyCorrect: false,
      greedyAnswer: '',
      greedyThinkingTokens: 0,
      greedyLatencyMs: 0,
      sampledCorrect: 0,
      sampledThinkingTokens: 0,
      budgetCorrect: o.budgets.map(() => false),
    }));
  }
  type Job = {
    mode: EvalMode;
    q: number;
    kind: EvalFailure['kind'];
    budget?: number;
    slot?: number;
    /** sampled: which chunk of the question's samples, and how many choices it asks for */
    chunk?: number;
    count?: number;
  };
  const jobs: Job[] = [];
  for (const mode of o.modes) {
    for (let q = 0; q < o.questions.length; q++) {
      jobs.push({ mode, q, kind: 'greedy' });
      for (let chunk = 0; chunk * o.maxN < samples; chunk++) {
        jobs.push({ mode, q, kind: 'sampled', chunk, count: Math.min(o.maxN, samples - chunk * o.maxN) });
      }
      for (const [slot, budget] of o.budgets.entries()) jobs.push({ mode, q, kind: 'budget', budget, slot });
    }
  }
  const failures: EvalFailure[] = [];
  const runStartMs = nowMs();
  await dispatch(
    jobs.length,
    { requestRate: Number.POSITIVE_INFINITY, maxConcurrency: o.concurrency, seed: 0 },
    async (i) => {
      const job = jobs[i]!;
      const question = o.questions[job.q]!;
      // a budget-sweep job thinks for its own budget; the others for the run's
      const budget = job.budget ?? o.thinkingMaxTokens;
      const fields =
        job.kind === 'sampled'
          ? sampledRequest(job.mode, job.count!, deriveSeed(deriveSeed(o.seed, job.q), job.chunk!), budget)
          : greedyRequest(job.mode, budget);
      // max_tokens bounds thinking and answer together (as vLLM's): the thinking budget, the
      // `</think>` that closes it, then `maxTokens` answer tokens
      const thinking = job.mode === 'off' ? 0 : budget;
      const result = await streamChat({
        url: o.url,
        apiKey: o.apiKey,
        index: i,
        mode: job.mode === 'off' ? 'discrete' : job.mode,
        body: {
          model: o.model,
          messages: [{ role: 'user', content: question.question }],
          ...(thinking !== undefined && { max_tokens: thinking + 1 + o.maxTokens }),
          stream: true,
          stream_options: { include_usage: true },
          ...fields,
        },
        runStartMs,
        timeoutMs: o.timeoutMs,
        collectText: true,
      });
      o.progress?.ended(result.outcome);
      if (result.outcome !== 'ok') {
        const error = `${result.errorType ?? result.outcome}${result.errorMessage ? `: ${result.errorMessage}` : ''}`;
        failures.push({ mode: job.mode, question: job.q, kind: job.kind, error });
        return;
      }
      record(outcomes[job.mode]![job.q]!, job, result, question.answer);
    },
  );
  o.progress?.finish();
  failures.sort((a, b) => a.question - b.question || a.mode.localeCompare(b.mode));
  return { samples, outcomes, failures, durationMs: nowMs() - runStartMs, requests: jobs.length };
}

function record(
  out: QuestionOutcome,
  job: { kind: EvalFailure['kind']; slot?: number },
  r: RequestResult,
  answer: string,
): void {
  const choices = r.choices ?? [];
  if (job.kind === 'greedy') {
    out.greedyAnswer = choices[0]?.content ?? '';
    out.greedyCorrect = isCorrectAnswer(answer, out.greedyAnswer);
    out.greedyThinkingTokens = r.reasoningTokens;
    out.greedyLatencyMs = r.e2eMs;
  } else if (job.kind === 'sampled') {
    // the chunks of a question add up; thinking tokens are summed here and averaged in summarise
    out.sampledCorrect += choices.filter((c) => isCorrectAnswer(answer, c.content)).length;
    out.sampledThinkingTokens += r.reasoningTokens;
  } else {
    out.budgetCorrect[job.slot!] = isCorrectAnswer(answer, choices[0]?.content ?? '');
  }
}
