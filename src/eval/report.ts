import { mean, median, percentile, table } from '../bench/stats.ts';
import type { EvalMode } from './modes.ts';
import { type Estimate, taskPassAtK, wilson } from './pass-at-k.ts';
import type { EvalFailure, EvalOptions, EvalRun } from './run.ts';

/** The figures of one thinking mode over a task. */
export interface ModeSummary {
  mode: EvalMode;
  /** Questions. */
  n: number;
  /** Accuracy of the greedy answer (pass@1 greedy), 95% Wilson interval. */
  greedy: Estimate;
  /** pass@k from the samples (unbiased estimator), 95% interval, for each requested k. */
  passAtK: { k: number; estimate: Estimate }[];
  /** Thinking tokens per answer, mean: greedy and sampled. */
  thinkingTokens: { greedy: number; sampled: number };
  /** Greedy request latency, ms. */
  latencyMs: { median: number; p90: number };
  /** Greedy accuracy at each thinking budget of the sweep. */
  budgets: { budget: number; accuracy: Estimate }[];
  /** Greedy accuracy per question group (JSONL `group`), in order of first appearance. */
  groups: { group: string; n: number; greedy: Estimate }[];
  /**
   * Each question's outcome, in file order: for failure analysis and for comparisons paired over
   * the same questions. Absent in reports stored before it was added.
   */
  questions?: QuestionRecord[];
}

/** What one mode did on one question. */
export interface QuestionRecord {
  /** The greedy answer (message content). */
  greedy: string;
  /** Whether it was right. */
  right: boolean;
  /** Right answers among the samples (of the report's `samples`). */
  sampledRight: number;
}

export interface EvalReport {
  eval: 'reverie';
  url: string;
  model: string;
  task: string;
  n: number;
  samples: number;
  config: {
    ks: number[];
    budgets: number[];
    maxTokens: number;
    thinkingMaxTokens: number | null;
    seed: number;
  };
  modes: ModeSummary[];
  failures: EvalFailure[];
  requests: number;
  durationMs: number;
}

const rate = (bools: readonly boolean[]) => wilson(mean(bools.map(Number)), bools.length);

/** Summarises a run. */
export function summarise(
  o: Pick<
    EvalOptions,
    'url' | 'model' | 'questions' | 'modes' | 'ks' | 'budgets' | 'maxTokens' | 'thinkingMaxTokens' | 'seed'
  >,
  task: string,
  run: EvalRun,
): EvalReport {
  const groupNames = [
    ...new Set(o.questions.map((q) => q.group).filter((g): g is string => g !== undefined)),
  ];
  const modes = o.modes.map((mode): ModeSummary => {
    const res = run.outcomes[mode]!;
    return {
      mode,
      n: res.length,
      greedy: rate(res.map((r) => r.greedyCorrect)),
      passAtK: [...o.ks]
        .sort((a, b) => a - b)
        .map((k) => ({
          k,
          estimate: taskPassAtK(
            res.map((r) => r.sampledCorrect),
            run.samples,
            k,
          ),
        })),
      thinkingTokens: {
        greedy: mean(res.map((r) => r.greedyThinkingTokens)),
        sampled: run.samples > 0 ? mean(res.map((r) => r.sampledThinkingTokens / run.samples)) : 0,
      },
      latencyMs: {
        median: median(res.map((r) => r.greedyLatencyMs)),
        p90: percentile(
          res.map((r) => r.greedyLatencyMs),
          90,
        ),
      },
      budgets: o.budgets.map((budget, i) => ({
        budget,
        accuracy: rate(res.map((r) => r.budgetCorrect[i]!)),
      })),
      groups: groupNames.map((group) => {
        const mine = res.filter((_, q) => o.questions[q]!.group === group);
        return { group, n: mine.length, greedy: rate(mine.map((r) => r.greedyCorrect)) };
      }),
      questions: res.map((r) => ({
        greedy: r.greedyAnswer,
        right: r.greedyCorrect,
        sampledRight: r.sampledCorrect,
      })),
    };
  });
  return {
    eval: 'reverie',
    url: o.url,
    model: o.model,
    task,
    n: o.questions.length,
    samples: run.samples,
    config: {
      ks: [...o.ks],
      budgets: [...o.budgets],
      maxTokens: o.maxTokens,
      thinkingMaxTokens: o.thinkingMaxTokens ?? null,
      seed: o.seed,
    },
    modes,
    failures: run.failures,
    requests: run.requests,
    durationMs: run.durationMs,
  };
}

/** `91.5 [87.0, 94.6]` (percent). */
export function formatEstimate(e: Estimate): string {
  const p = (x: number) => (100 * x).toFixed(1);
  return `${p(e.value)} [${p(e.low)}, ${p(e.high)}]`;
}

/** The report as plain-text tables. */
export function formatEvalReport(r: EvalReport): string {
  const ks = r.modes[0]?.passAtK.map((p) => p.k) ?? [];
  const lines = [
    `reverie eval: ${r.url}, model ${r.model}, task ${r.task}, ${r.n} questions, ${r.samples} samples per ` +
      `question and mode, ${r.requests} requests in ${(r.durationMs / 1000).toFixed(1)} s`,
    'accuracy in % with 95% intervals; pass@k by the unbiased estimator over the samples',
    '',
    table(
      [
        'mode',
        'greedy pass@1',
        ...ks.map((k) => `pass@${k}`),
        'think tok (greedy)',
        'think tok (sampled)',
        'latency ms (median)',
      ],
      r.modes.map((m) => [
        m.mode,
        formatEstimate(m.greedy),
        ...m.passAtK.map((p) => formatEstimate(p.estimate)),
        m.thinkingTokens.greedy.toFixed(1),
        m.thinkingTokens.sampled.toFixed(1),
        m.latencyMs.median.toFixed(0),
      ]),
    ),
  ];
  const budgets = r.config.budgets;
  if (budgets.length > 0) {
    lines.push(
      '',
      'greedy accuracy by thinking budget (positions)',
      table(
        ['mode', ...budgets.map(String)],
        r.modes.map((m) => [m.mode, ...m.budgets.map((b) => (100 * b.accuracy.value).toFixed(1))]),
      ),
    );
  }
  const groups = r.modes[0]?.groups ?? [];
  if (groups.length > 0) {
    lines.push(
      '',
      'greedy accuracy by group',
      table(
        ['group', 'n', ...r.modes.map((m) => m.mode)],
        groups.map((g, i) => [g.group, g.n, ...r.modes.map((m) => formatEstimate(m.groups[i]!.greedy))]),
      ),
    );
  }
  if (r.failures.length > 0) {
    lines.push('', `${r.failures.length} requests FAILED (counted as wrong):`);
    for (const f of r.failures.slice(0, 10))
      lines.push(`  ${f.mode} question ${f.question} (${f.kind}): ${f.error}`);
  }
  return lines.join('\n');
}
