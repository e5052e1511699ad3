import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stderrProgress } from '../bench/serve/progress.ts';
import { evaluate } from '../eval/evaluate.ts';
import { EVAL_USAGE, evalFlagsSchema } from '../eval/options.ts';
import { budgetPanel, type Panel, passAtKPanel, plotSvg } from '../eval/plot.ts';
import { formatEvalReport } from '../eval/report.ts';

const FLAGS = [
  'url',
  'model',
  'api-key',
  'task',
  'modes',
  'k',
  'n',
  'budgets',
  'max-tokens',
  'thinking-max-tokens',
  'concurrency',
  'max-n',
  'seed',
  'request-timeout',
  'json-out',
  'plot',
] as const;

function usageError(message: string): void {
  process.stderr.write(`reverie eval: ${message}\n\n${EVAL_USAGE}\n`);
  process.exitCode = 2;
}

/**
 * `reverie eval …`: accuracy of a served model on a task, per thinking mode, through the server's
 * OpenAI API. Exit 2 on bad flags, 1 when a request failed (the report still prints).
 */
export async function evalCommand(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(EVAL_USAGE);
    return;
  }
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: argv,
      options: Object.fromEntries([
        ...FLAGS.map((f) => [f, { type: 'string' as const }]),
        ['json', { type: 'boolean' as const }],
        ['greedy-only', { type: 'boolean' as const }],
      ]),
    }).values;
  } catch (err) {
    usageError(err instanceof Error ? err.message : String(err));
    return;
  }
  const parsed = evalFlagsSchema.safeParse(values);
  if (!parsed.success) {
    usageError(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('\n'));
    return;
  }
  const flags = parsed.data;
  if (flags.plot && flags.ks.length === 0 && flags.budgets.length === 0) {
    usageError('--plot needs pass@k (no --greedy-only) or --budgets');
    return;
  }
  const report = await evaluate(flags, (total) => stderrProgress(total, process.stderr, 'eval'));
  const text = formatEvalReport(report);
  if (flags.json) {
    process.stderr.write(`${text}\n`);
    console.log(JSON.stringify(report));
  } else {
    console.log(text);
  }
  if (flags.jsonOut) writeFileSync(flags.jsonOut, `${JSON.stringify(report, null, 2)}\n`);
  if (flags.plot) {
    const panels: Panel[] = report.samples > 0 ? [passAtKPanel(report)] : [];
    const budgets = budgetPanel(report);
    if (budgets) panels.push(budgets);
    writeFileSync(flags.plot, plotSvg(panels));
  }
  if (report.failures.length > 0) process.exitCode = 1;
}
