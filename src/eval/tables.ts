import type { z } from 'zod';
import type { evaluationRowSchema } from '../model/manifest.ts';
import { type Estimate, pairedPassAtKDifference } from './pass-at-k.ts';
import type { EvalReport } from './report.ts';

/** Manifest rows and Markdown tables from `reverie eval` reports (what `npm run eval:models` publishes). */

export type EvaluationRow = z.infer<typeof evaluationRowSchema>;

/** A report of one training variant on one task. */
export interface VariantReport {
  variant: string;
  report: EvalReport;
}

const ci = (e: Estimate): [number, number] => [round(e.low), round(e.high)];
const round = (x: number) => Math.round(x * 1e4) / 1e4;
const pct = (x: number) => (100 * x).toFixed(1);

/** `91.0 [86.3–94.2]` */
export function cell(e: Estimate): string {
  return `${pct(e.value)} [${pct(e.low)}–${pct(e.high)}]`;
}

/** The manifest rows of a report: one per thinking mode. */
export function evaluationRows(variant: string, r: EvalReport, task = r.task): EvaluationRow[] {
  return r.modes.map((m) => {
    const at = (k: number) => m.passAtK.find((p) => p.k === k)?.estimate;
    const p32 = at(32);
    return {
      task,
      variant,
      inference: m.mode,
      pass_at_1: round(m.greedy.value),
      pass_at_1_ci: ci(m.greedy),
      ...(p32 && { pass_at_32: round(p32.value), pass_at_32_ci: ci(p32) }),
      ...(m.passAtK.length > 0 && {
        pass_at_k: Object.fromEntries(
          m.passAtK.map((p) => [String(p.k), { value: round(p.estimate.value), ci: ci(p.estimate) }]),
        ),
      }),
      n: m.n,
      samples: r.samples,
      thinking_tokens: Math.round(m.thinkingTokens.greedy * 100) / 100,
      latency_ms: Math.round(m.latencyMs.median),
      measured_by: 'reverie eval (through the server)',
    };
  });
}

/** Training variant × inference mode, each cell `greedy pass@1 / pass@32` with intervals. */
export function variantTable(task: string, reports: readonly VariantReport[]): string {
  const modes = [...new Set(reports.flatMap((v) => v.report.modes.map((m) => m.mode)))];
  const first = reports[0]!.report;
  const lines = [
    `**${task}** (n = ${first.n} test questions; greedy pass@1 / pass@32 from ${first.samples} samples, %, 95% intervals)`,
    '',
    `| training \\ inference | ${modes.join(' | ')} |`,
    `|---|${modes.map(() => '---|').join('')}`,
  ];
  for (const { variant, report } of reports) {
    const cells = modes.map((mode) => {
      const m = report.modes.find((x) => x.mode === mode);
      const p32 = m?.passAtK.find((p) => p.k === 32)?.estimate;
      return m ? `${cell(m.greedy)} / ${p32 ? cell(p32) : '–'}` : '–';
    });
    lines.push(`| ${variant} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/**
 * One inference mode's pass@k curve per training variant (`greedy`, then every k measured): where
 * pass@32 sits near its ceiling, pass@1 and pass@8 still tell the variants apart.
 */
export function passAtKTable(task: string, mode: string, reports: readonly VariantReport[]): string {
  const ks = [...new Set(reports.flatMap((v) => v.report.config.ks))].sort((a, b) => a - b);
  const lines = [
    `| ${task}, ${mode} inference | greedy | ${ks.map((k) => `pass@${k}`).join(' | ')} |`,
    `|---|---|${ks.map(() => '---|').join('')}`,
  ];
  for (const { variant, report } of reports) {
    const m = report.modes.find((x) => x.mode === mode);
    if (!m) continue;
    const at = (k: number) => m.passAtK.find((p) => p.k === k)?.estimate;
    lines.push(
      `| ${variant} | ${cell(m.greedy)} | ${ks.map((k) => (at(k) ? cell(at(k)!) : '–')).join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** Greedy accuracy per question group (phrasing) and mode. */
export function groupTable(r: EvalReport): string {
  const lines = [
    `| phrasing | n | ${r.modes.map((m) => `${m.mode} (greedy)`).join(' | ')} |`,
    `|---|---|${r.modes.map(() => '---|').join('')}`,
  ];
  r.modes[0]!.groups.forEach((g, i) => {
    lines.push(`| ${g.group} | ${g.n} | ${r.modes.map((m) => cell(m.groups[i]!.greedy)).join(' | ')} |`);
  });
  return lines.join('\n');
}

/** Greedy accuracy and thinking tokens by thinking budget and mode. */
export function budgetTable(r: EvalReport): string {
  const budgets = r.config.budgets;
  const lines = [
    `| mode \\ thinking budget | ${budgets.join(' | ')} |`,
    `|---|${budgets.map(() => '---|').join('')}`,
  ];
  for (const m of r.modes)
    lines.push(`| ${m.mode} | ${m.budgets.map((b) => pct(b.accuracy.value)).join(' | ')} |`);
  return lines.join('\n');
}

/** Thinking tokens (greedy, mean) and median latency per variant and mode. */
export function costTable(task: string, reports: readonly VariantReport[]): string {
  const modes = [...new Set(reports.flatMap((v) => v.report.modes.map((m) => m.mode)))];
  const lines = [
    `| ${task}: thinking tokens / latency ms | ${modes.join(' | ')} |`,
    `|---|${modes.map(() => '---|').join('')}`,
  ];
  for (const { variant, report } of reports) {
    const cells = modes.map((mode) => {
      const m = report.modes.find((x) => x.mode === mode);
      return m ? `${m.thinkingTokens.greedy.toFixed(1)} / ${m.latencyMs.median.toFixed(0)}` : '–';
    });
    lines.push(`| ${variant} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/**
 * Whether soft/fuzzy RL ≥ hard RL on pass@32 under hard inference ("Soft Tokens, Hard Truths"),
 * as one sentence with the figures; null when a variant is missing.
 */
export function softVsHard(task: string, reports: readonly VariantReport[]): string | null {
  const p32 = (variant: string) =>
    reports
      .find((v) => v.variant === variant)
      ?.report.modes.find((m) => m.mode === 'hard')
      ?.passAtK.find((p) => p.k === 32)?.estimate;
  const hard = p32('rl-hard');
  const soft = p32('rl-soft');
  const fuzzy = p32('rl-fuzzy');
  if (!hard || !soft || !fuzzy) return null;
  const holds = soft.value >= hard.value && fuzzy.value >= hard.value;
  const overlaps = (e: Estimate) => e.low <= hard.high && hard.low <= e.high;
  const overlap = [soft, fuzzy].every(overlaps);
  // soft RL with Dirichlet noise on the mixture weights (not the paper's Gaussian): said apart
  const dirichlet = p32('rl-soft-dirichlet');
  const paired = pairedAgainstHard(reports, [
    'rl-soft',
    'rl-fuzzy',
    ...(dirichlet ? ['rl-soft-dirichlet'] : []),
  ]);
  return (
    `${task}, pass@32 under hard inference: rl-hard ${cell(hard)}, rl-soft ${cell(soft)}, rl-fuzzy ${cell(fuzzy)}: ` +
    `"soft/fuzzy training ≥ hard" ${holds ? 'holds' : 'does not hold'} on the point estimates` +
    (overlap ? ', and the intervals overlap (no significant difference).' : '.') +
    (dirichlet
      ? ` rl-soft-dirichlet ${cell(dirichlet)}: ${dirichlet.value >= hard.value ? '≥' : '<'} rl-hard` +
        (overlaps(dirichlet) ? ', the intervals overlapping.' : '.')
      : '') +
    (paired ? ` ${paired}` : '')
  );
}

/** `+1.5 [−0.5, +3.0]`: a difference of proportions in percentage points. */
function points(e: Estimate): string {
  const p = (x: number) => {
    const s = (100 * x).toFixed(1);
    return s === '-0.0' || s === '0.0' ? '0.0' : x > 0 ? `+${s}` : s.replace('-', '−');
  };
  return `${p(e.value)} [${p(e.low)}, ${p(e.high)}]`;
}

/**
 * Each variant against rl-hard under hard inference, paired over the same questions (pass@1 and
 * pass@32 from the samples; src/eval/pass-at-k.ts): one sentence, or null when a report has no
 * per-question outcomes (reports stored before they were kept).
 */
function pairedAgainstHard(reports: readonly VariantReport[], variants: readonly string[]): string | null {
  const hardMode = (variant: string) =>
    reports.find((v) => v.variant === variant)?.report.modes.find((m) => m.mode === 'hard');
  const base = hardMode('rl-hard');
  const samples = reports[0]!.report.samples;
  if (!base?.questions || samples < 32) return null;
  const parts: string[] = [];
  for (const variant of variants) {
    const other = hardMode(variant);
    if (!other?.questions || other.questions.length !== base.questions.length) return null;
    const right = (m: typeof base) => m.questions!.map((q) => q.sampledRight);
    const at = (k: number) => points(pairedPassAtKDifference(right(base), right(other), samples, k));
    parts.push(`${variant} − rl-hard: pass@1 ${at(1)}, pass@32 ${at(32)}`);
  }
  return (
    `Paired over the same ${base.questions.length} questions (hard inference, percentage points, ` +
    `95% bootstrap intervals): ${parts.join('; ')}.`
  );
}

/**
 * The training time from the manifest's `training.time_s`: the default checkpoint's command and,
 * where the comparison variants were trained too, the whole set (the two differ by ~an hour, and a
 * single figure read as the default's cost was misleading).
 */
export function trainingTime(t: Readonly<Record<string, number>>): string {
  const min = (s: number | undefined) => (s === undefined ? '?' : (s / 60).toFixed(1));
  const whole = `${min(t.total_wall_s)} min wall, ${min(t.total_cpu_s)} min CPU`;
  if (t.default_wall_s === undefined || t.default_wall_s === t.total_wall_s)
    return `Training: ${whole} (shared machine).`;
  return (
    `Training: ${min(t.default_wall_s)} min wall, ${min(t.default_cpu_s)} min CPU for the default checkpoint; ` +
    `${whole} with the comparison variants (shared machine).`
  );
}
