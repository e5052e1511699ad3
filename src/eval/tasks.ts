import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * Evaluation questions: JSONL with one `{"question": ..., "answer": ...}` per line, optionally a
 * `group` (a phrasing, a difficulty; results are also broken down by it). The built-in tasks
 * `reachability` and `arithmetic` are such files under `evals/`, written by the Python trainer
 * (`python3 -m training.export_evals`) from the very generators it trains on, test split only.
 */

export const questionSchema = z.object({
  question: z.string().min(1),
  answer: z.union([z.string().min(1), z.number()]).transform(String),
  group: z.string().min(1).optional(),
});
export type Question = z.infer<typeof questionSchema>;

/** The folder of the built-in evaluation sets. */
export const EVALS_DIR = join(import.meta.dirname, '..', '..', 'evals');

/** Built-in task name → file under `evals/`. */
export const BUILTIN_TASKS: Record<string, string> = {
  reachability: 'reachability.jsonl',
  arithmetic: 'arithmetic.jsonl',
  'arithmetic-phrasings': 'arithmetic-phrasings.jsonl',
  'reachability-phrasings': 'reachability-phrasings.jsonl',
  'arithmetic-4digit': 'arithmetic-4digit.jsonl',
};

/** Parses JSONL text; an error names the line and the problem. */
export function parseQuestions(text: string, source: string): Question[] {
  const out: Question[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      throw new Error(`${source}:${i + 1}: not JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    const parsed = questionSchema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues.map((x) => `${x.path.join('.') || 'line'}: ${x.message}`).join('; ');
      throw new Error(
        `${source}:${i + 1}: expected {"question": string, "answer": string, "group"?: string} (${why})`,
      );
    }
    out.push(parsed.data);
  });
  if (out.length === 0) throw new Error(`${source}: no questions`);
  return out;
}

/**
 * The questions of a built-in task name or a JSONL file path; the first `limit` when given.
 * @throws Error naming the file and line of a bad entry, or an unknown task
 */
export function loadTask(task: string, limit?: number): { name: string; questions: Question[] } {
  const builtin = BUILTIN_TASKS[task];
  const path = builtin ? join(EVALS_DIR, builtin) : task;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const known = Object.keys(BUILTIN_TASKS).join(', ');
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(err);
    throw new Error(`--task ${task}: ${why} (built-in tasks: ${known}, or a JSONL file)`);
  }
  const questions = parseQuestions(text, builtin ? `evals/${builtin}` : task);
  const name = builtin ? task : (task.split('/').pop() ?? task).replace(/\.jsonl$/, '');
  return { name, questions: limit === undefined ? questions : questions.slice(0, limit) };
}
