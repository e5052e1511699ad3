import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Estimate, wilson } from '../../src/eval/pass-at-k.ts';
import { budgetPanel, passAtKPanel, plotSvg } from '../../src/eval/plot.ts';
import type { EvalReport, ModeSummary } from '../../src/eval/report.ts';
import {
  evaluationRows,
  passAtKTable,
  softVsHard,
  trainingTime,
  variantTable,
} from '../../src/eval/tables.ts';
import { evaluationRowSchema } from '../../src/model/manifest.ts';

/** What `npm run eval:models` publishes, from hand-made reports. */

function mode(name: ModeSummary['mode'], greedy: number, p32: number): ModeSummary {
  const e = (v: number): Estimate => wilson(v, 100);
  return {
    mode: name,
    n: 100,
    greedy: e(greedy),
    passAtK: [
      { k: 1, estimate: e(greedy - 0.05) },
      { k: 32, estimate: e(p32) },
    ],
    thinkingTokens: { greedy: 9.5, sampled: 11 },
    latencyMs: { median: 42.4, p90: 80 },
    budgets: [
      { budget: 2, accuracy: e(0.5) },
      { budget: 8, accuracy: e(greedy) },
    ],
    groups: [],
  };
}

function report(modes: ModeSummary[]): EvalReport {
  return {
    eval: 'reverie',
    url: 'http://x',
    model: 'm',
    task: 'reachability',
    n: 100,
    samples: 32,
    config: { ks: [1, 32], budgets: [2, 8], maxTokens: 16, thinkingMaxTokens: null, seed: 0 },
    modes,
    failures: [],
    requests: 600,
    durationMs: 1000,
  };
}

describe('published tables', () => {
  const hard = report([mode('hard', 0.9, 0.97), mode('latent', 0.95, 0.99)]);
  const soft = report([mode('hard', 0.88, 0.99)]);
  const fuzzy = report([mode('hard', 0.91, 0.98)]);

  it('manifest rows are valid rows with intervals, pass@k, tokens and latency', () => {
    const rows = evaluationRows('rl-hard', hard);
    assert.equal(rows.length, 2);
    for (const row of rows) evaluationRowSchema.parse(row);
    assert.equal(rows[0]!.pass_at_1, 0.9);
    assert.equal(rows[0]!.pass_at_32, 0.97);
    assert.deepEqual(Object.keys(rows[1]!.pass_at_k!), ['1', '32']);
    assert.equal(rows[0]!.latency_ms, 42);
    assert.ok(rows[0]!.pass_at_1_ci![0] < 0.9 && rows[0]!.pass_at_1_ci![1] > 0.9);
  });

  it('variant × mode table and the soft-vs-hard sentence', () => {
    const variants = [
      { variant: 'rl-hard', report: hard },
      { variant: 'rl-soft', report: soft },
      { variant: 'rl-fuzzy', report: fuzzy },
    ];
    const t = variantTable('reachability', variants);
    assert.match(t, /\| training \\ inference \| hard \| latent \|/);
    assert.match(t, /\| rl-hard \| 90\.0 \[\d+\.\d–\d+\.\d\] \/ 97\.0 \[/);
    assert.match(t, /\| rl-soft \| 88\.0 \[[^|]+\| – \|/);
    const s = softVsHard('reachability', variants)!;
    assert.match(s, /"soft\/fuzzy training ≥ hard" holds/);
    assert.match(s, /intervals overlap/);
    assert.equal(softVsHard('reachability', variants.slice(0, 2)), null);
    const worse = [
      ...variants.slice(0, 2),
      { variant: 'rl-fuzzy', report: report([mode('hard', 0.5, 0.6)]) },
    ];
    assert.match(softVsHard('reachability', worse)!, /does not hold/);
    assert.doesNotMatch(s, /dirichlet/);
    const withDirichlet = [
      ...variants,
      { variant: 'rl-soft-dirichlet', report: report([mode('hard', 0.5, 0.6)]) },
    ];
    assert.match(
      softVsHard('reachability', withDirichlet)!,
      /holds .*\. rl-soft-dirichlet 60\.0 \[[^\]]+\]: < rl-hard\.$/,
    );
  });

  it('with per-question outcomes the sentence adds the differences paired over the same questions', () => {
    // 4 questions, 32 samples: rl-soft solves question 4 once, which rl-hard never does
    const withQuestions = (r: EvalReport, right: number[]): EvalReport => ({
      ...r,
      modes: r.modes.map((m) => ({
        ...m,
        questions: right.map((c) => ({ greedy: '1', right: c > 16, sampledRight: c })),
      })),
    });
    const variants = [
      { variant: 'rl-hard', report: withQuestions(hard, [32, 32, 32, 0]) },
      { variant: 'rl-soft', report: withQuestions(soft, [32, 32, 32, 1]) },
      { variant: 'rl-fuzzy', report: withQuestions(fuzzy, [32, 32, 32, 0]) },
    ];
    const s = softVsHard('arithmetic-4digit', variants)!;
    assert.match(
      s,
      /Paired over the same 4 questions \(hard inference, percentage points, 95% bootstrap intervals\): rl-soft − rl-hard: pass@1 \+0\.8 \[0\.0, \+2\.3\], pass@32 \+25\.0 \[0\.0, \+75\.0\]; rl-fuzzy − rl-hard: pass@1 0\.0 \[0\.0, 0\.0\], pass@32 0\.0 \[0\.0, 0\.0\]\.$/,
    );
    // without them (reports stored before they were kept): no paired sentence
    assert.doesNotMatch(
      softVsHard(
        'reachability',
        variants.map((v) => ({ ...v, report: hard })),
      )!,
      /Paired/,
    );
  });

  it('the pass@k table of one inference mode: greedy then every k, a row per variant that has the mode', () => {
    const t = passAtKTable('arithmetic-4digit', 'latent', [
      { variant: 'rl-hard', report: hard },
      { variant: 'rl-soft', report: soft },
    ]);
    const lines = t.split('\n');
    assert.equal(lines[0], '| arithmetic-4digit, latent inference | greedy | pass@1 | pass@32 |');
    assert.equal(lines.length, 3, 'rl-soft has no latent mode: no row');
    assert.match(lines[2]!, /^\| rl-hard \| 95\.0 \[[^\]]+\] \| 90\.0 \[[^\]]+\] \| 99\.0 \[[^\]]+\] \|$/);
  });

  it('the plot has a line per mode and panel, with escaped titles', () => {
    const svg = plotSvg([passAtKPanel(hard, 'a < b'), budgetPanel(hard)!]);
    assert.equal((svg.match(/<polyline/g) ?? []).length, 4);
    assert.match(svg, /a &lt; b/);
    assert.ok(svg.trimEnd().endsWith('</svg>'));
  });

  it("the training time names the default checkpoint's cost apart from the whole set", () => {
    const whole = { total_wall_s: 8578, total_cpu_s: 8088 };
    assert.equal(trainingTime(whole), 'Training: 143.0 min wall, 134.8 min CPU (shared machine).');
    assert.equal(
      trainingTime({ ...whole, default_wall_s: 4926, default_cpu_s: 4785 }),
      'Training: 82.1 min wall, 79.8 min CPU for the default checkpoint; 143.0 min wall, 134.8 min CPU with the ' +
        'comparison variants (shared machine).',
    );
    assert.equal(trainingTime({}), 'Training: ? min wall, ? min CPU (shared machine).');
    // a run of the default's command alone: one figure, no comparison variants to name
    assert.equal(
      trainingTime({ ...whole, default_wall_s: 8578, default_cpu_s: 8088 }),
      'Training: 143.0 min wall, 134.8 min CPU (shared machine).',
    );
  });
});
