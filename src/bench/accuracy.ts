import { readFileSync } from 'node:fs';
import { createEngine } from '../engine/engine.ts';
import type { Engine } from '../engine/types.ts';
import { type Checkpoint, loadCheckpoint } from '../model/checkpoint.ts';
import { ensureGraph } from '../model/graph-cache.ts';
import type { ThinkingMode } from '../model/manifest.ts';
import type { QuantizationChoice, QuantSpec } from '../model/quantization.ts';
import { ModelRunner } from '../model/runner.ts';
import { RUNTIME_WEIGHTS } from './quant-runtime.ts';
import { meanKl, table } from './stats.ts';

/**
 * Greedy accuracy of a served checkpoint on its held-out questions (the `<name>-testset.jsonl`
 * fixture `training/` writes: messages, answer, prompt ids), as the server answers them: chat
 * template, thinking in the given mode with the manifest's budget (hard: greedy), then up to 10
 * greedy answer tokens,
 * compared with the answer after trimming. `bench quality` runs it for fp32 / int8 / int4.
 */

export interface TestQuestion {
  task: string;
  messages: { role: string; content: string }[];
  answer: string;
  prompt_ids: number[];
}

export interface Answered {
  task: string;
  ok: boolean;
  /** The prompt the server rendered (tests compare it with the trainer's `prompt_ids`). */
  prompt: number[];
}

/** One question per non-empty line. */
export function loadTestset(path: string): TestQuestion[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as TestQuestion);
}

/** Answers every question at once (the engine batches them); the answer itself is greedy. */
export async function answerQuestions(
  engine: Engine,
  questions: readonly TestQuestion[],
  thinking: Exclude<ThinkingMode, 'off'> = 'hard',
): Promise<Answered[]> {
  const info = engine.models[0]!;
  const thinkEnd = info.manifest.thinking!.end;
  return Promise.all(
    questions.map(async (q, i) => {
      const rendered = info.chatTemplate!.render(q.messages, { addGenerationPrompt: true });
      const prompt = info.tokenizer.encode(rendered, { specialTokens: true });
      let text = '';
      for await (const ev of engine.generate({
        id: `q${i}`,
        model: info.name,
        prompt,
        startsInThinking: true,
        params: {
          temperature: 0,
          // max_tokens counts the thinking too: the budget, </think>, then 10 answer tokens.
          max_tokens: info.manifest.defaults.thinking_max_tokens + 11,
          thinking: {
            mode: thinking,
            max_tokens: info.manifest.defaults.thinking_max_tokens,
            // Hard thinking greedy; soft / fuzzy / latent at their mode's default temperature (a
            // soft mixture at temperature 0 would be hard thinking again). No noise: deterministic.
            ...(thinking === 'hard' ? { temperature: 0 } : {}),
          },
        },
      })) {
        if (ev.type === 'content') text += ev.text;
        if (ev.type === 'error') throw ev.error;
      }
      return { task: q.task, ok: text.replace(thinkEnd, '').trim() === q.answer, prompt };
    }),
  );
}

/** Accuracy per task (and `all`), in [0, 1]. */
export function accuracyByTask(answers: readonly Answered[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const task of [...[...new Set(answers.map((a) => a.task))].sort(), 'all']) {
    const mine = task === 'all' ? answers : answers.filter((a) => a.task === task);
    out[task] = mine.filter((a) => a.ok).length / mine.length;
  }
  return out;
}

export interface QualityRow {
  /** A key of RUNTIME_WEIGHTS. */
  weights: string;
  thinking: string;
  questions: number;
  /** Accuracy per task and `all`; null for graphs the server does not offer (KL only). */
  accuracy: Record<string, number> | null;
  /** Mean KL(fp32 ‖ this) of the next-token distributions over every prompt position. */
  meanKl: number;
}

/** The weights the server can be asked for (`--quantization`), by label. */
const SERVED: Record<string, QuantizationChoice> = { fp32: 'none', int8: 'int8', int4: 'int4' };

/** Prompt logits of every question (all positions) through the graph of `spec`, for the KL column. */
async function promptLogits(
  checkpoint: Checkpoint,
  spec: QuantSpec | null,
  questions: readonly TestQuestion[],
) {
  const graph = await ensureGraph(checkpoint.dir, checkpoint.config, checkpoint.weightFiles, {
    quantization: spec,
  });
  const runner = await ModelRunner.open(graph.modelPath, checkpoint.config);
  const out: Float32Array[] = [];
  for (const q of questions) {
    const ids = Int32Array.from(q.prompt_ids);
    out.push(
      (await runner.step({ rows: [{ seq: 0, count: ids.length, bagSize: 1, ids, allPositions: true }] }))
        .logits,
    );
    await runner.step({ frees: [0], rows: [] });
  }
  await runner.close();
  return out;
}

/**
 * Runs the test set through the server (one engine at a time) for each served weights (fp32, int8,
 * int4), and the prompt KL against fp32 for every label, alternatives included.
 */
export async function benchQuality(opts: {
  dir: string;
  testset: string;
  weights?: string[];
  thinking?: Exclude<ThinkingMode, 'off'>[];
  log: (s: string) => void;
}): Promise<QualityRow[]> {
  const questions = loadTestset(opts.testset);
  const labels = opts.weights ?? ['fp32', 'int8', 'int4'];
  const checkpoint = await loadCheckpoint(opts.dir);
  const reference = labels.includes('fp32') ? await promptLogits(checkpoint, null, questions) : null;
  const rows: QualityRow[] = [];
  for (const weights of labels) {
    let kl = Number.NaN;
    if (reference) {
      const mine = await promptLogits(checkpoint, RUNTIME_WEIGHTS[weights] ?? null, questions);
      const kls = mine.map((l, i) => meanKl(reference[i]!, l, checkpoint.config.vocabSize));
      kl = kls.reduce((a, b) => a + b, 0) / kls.length;
    }
    const served = SERVED[weights];
    if (served === undefined) {
      rows.push({ weights, thinking: '-', questions: questions.length, accuracy: null, meanKl: kl });
      continue;
    }
    const engine = createEngine({ checkpointDirs: [opts.dir], quantization: served });
    await engine.ready();
    for (const thinking of opts.thinking ?? ['hard']) {
      opts.log(`  ${weights}: ${questions.length} questions, ${thinking} thinking`);
      const accuracy = accuracyByTask(await answerQuestions(engine, questions, thinking));
      rows.push({ weights, thinking, questions: questions.length, accuracy, meanKl: kl });
    }
    await engine.close();
  }
  return rows;
}

export function formatQuality(rows: QualityRow[]): string {
  const tasks = Object.keys(rows.find((r) => r.accuracy)?.accuracy ?? {});
  const pct = (x: number | undefined) => (x === undefined ? '-' : (100 * x).toFixed(1));
  return table(
    [
      'weights',
      'thinking',
      'questions',
      ...tasks.map((t) => `${t} %`),
      'Δ all vs fp32 (points)',
      'mean KL(fp32‖q)',
    ],
    rows.map((r) => {
      const base = rows.find((x) => x.weights === 'fp32' && x.thinking === r.thinking)?.accuracy;
      const delta = base && r.accuracy ? 100 * (r.accuracy.all! - base.all!) : Number.NaN;
      return [
        r.weights,
        r.thinking,
        r.questions,
        ...tasks.map((t) => pct(r.accuracy?.[t])),
        Number.isNaN(delta) ? '-' : `${delta >= 0 ? '+' : ''}${delta.toFixed(1)}`,
        r.meanKl.toExponential(2),
      ];
    }),
  );
}
