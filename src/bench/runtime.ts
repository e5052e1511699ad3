import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowStep, Runner } from '../model/batch.ts';
import { ensureGraph, type GraphInfo } from '../model/graph-cache.ts';
import { parseModelConfig } from '../model/hf-config.ts';
import type { QuantSpec } from '../model/quantization.ts';
import { ModelRunner, type RunnerOptions } from '../model/runner.ts';
import { QWEN05B_SHAPE, type TestModelOptions, TINY, writeRandomModel } from '../model/test-model.ts';
import { median, nowMs, table } from './stats.ts';

/**
 * `npm run bench:runtime`: median decode-step time at batch 1/8/32 and context 64/512, for the
 * tiny model and a random model of Qwen2.5-0.5B's shape, and the runner's overhead over the
 * `session.run` inside each step (the runner's own forward time, measured in the same steps).
 */

export interface RuntimeRow {
  model: string;
  batch: number;
  context: number;
  stepMs: number;
  rawRunMs: number;
  overhead: number;
}

export const SHAPES: Record<string, Required<Omit<TestModelOptions, 'seed'>>> = {
  tiny: TINY,
  'qwen2.5-0.5b-shape': QWEN05B_SHAPE,
};

/** Generated benchmark models live outside the repository; they are never committed. */
export function benchModelDir(name: string): string {
  return join(process.env.REVERIE_BENCH_DIR ?? join(tmpdir(), 'reverie-bench'), name);
}

/** Writes the random model `name` if missing and converts it (with `quantization`, if given). */
export async function benchGraph(
  name: string,
  log: (s: string) => void,
  quantization: QuantSpec | null = null,
): Promise<GraphInfo & { config: ReturnType<typeof parseModelConfig> }> {
  const dir = benchModelDir(name);
  if (!existsSync(join(dir, 'model.safetensors'))) {
    log(`writing random ${name} weights to ${dir}`);
    mkdirSync(dir, { recursive: true });
    writeRandomModel(dir, { ...SHAPES[name], seed: 1 });
  }
  const config = parseModelConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  const graph = await ensureGraph(dir, config, [join(dir, 'model.safetensors')], {
    quantization,
    onProgress: (m) => log(`  ${m}`),
  });
  return { ...graph, config };
}

export async function openBenchModel(
  name: string,
  log: (s: string) => void,
  quantization: QuantSpec | null = null,
  options: RunnerOptions = {},
): Promise<ModelRunner> {
  const graph = await benchGraph(name, log, quantization);
  return ModelRunner.open(graph.modelPath, graph.config, options);
}

/**
 * Decode steps at a fixed context: `batch` sequences of `context` positions are prefilled once and
 * kept as they are; each timed step decodes one position on fresh copies of them (made, and the
 * previous copies freed, by an untimed step without rows), so every step sees the same context.
 */
export class FixedContext {
  readonly #runner: Runner;
  readonly #base: number[];
  readonly #context: number;
  #round = 0;

  constructor(runner: Runner, batch: number, context: number) {
    this.#runner = runner;
    this.#base = Array.from({ length: batch }, (_, b) => 1_000 + b);
    this.#context = context;
  }

  /** Prefills the kept sequences (values do not change timing). */
  async seed(): Promise<void> {
    for (const [b, seq] of this.#base.entries()) {
      const ids = Int32Array.from({ length: this.#context }, (_, i) => (i * 31 + b * 7) % 200);
      await this.#runner.step({ rows: [{ seq, count: this.#context, bagSize: 1, ids }] });
    }
  }

  /** Makes the next step's copies (untimed); returns that step's decode rows. */
  async next(): Promise<RowStep[]> {
    const work = this.#copies(this.#round++);
    await this.#runner.step({
      frees: this.#copies(this.#round),
      copies: this.#base.map((from, b) => ({ from, to: work[b]!, length: this.#context })),
      rows: [],
    });
    return work.map((seq, b) => ({ seq, count: 1, bagSize: 1, ids: Int32Array.of(b % 200) }));
  }

  /** Frees every sequence it made. */
  async free(): Promise<void> {
    await this.#runner.step({ frees: [...this.#base, ...this.#copies(0), ...this.#copies(1)], rows: [] });
  }

  /** The copies of a round: two sets in turn, so the last round's are freed while this one's are made. */
  #copies(round: number): number[] {
    return this.#base.map((_, b) => 10_000 + (round % 2) * 1_000 + b);
  }
}

export async function benchRuntime(opts: {
  models: string[];
  steps?: number;
  log: (s: string) => void;
}): Promise<RuntimeRow[]> {
  const rows: RuntimeRow[] = [];
  for (const name of opts.models) {
    const runner = await openBenchModel(name, opts.log);
    const steps = opts.steps ?? (name === 'tiny' ? 50 : 8);
    for (const context of [64, 512]) {
      for (const batch of [1, 8, 32]) {
        const fixed = new FixedContext(runner, batch, context);
        await fixed.seed();
        const stepTimes: number[] = [];
        const runTimes: number[] = [];
        for (let i = -2; i < steps; i++) {
          const decode = await fixed.next();
          const forward = runner.forwardMs;
          const t = nowMs();
          await runner.step({ rows: decode });
          const step = nowMs() - t;
          if (i >= 0) {
            stepTimes.push(step);
            runTimes.push(runner.forwardMs - forward);
          }
        }
        await fixed.free();
        const row = {
          model: name,
          batch,
          context,
          stepMs: median(stepTimes),
          rawRunMs: median(runTimes),
          overhead: median(stepTimes) / median(runTimes),
        };
        opts.log(
          `  ${name} batch ${batch} context ${context}: step ${row.stepMs.toFixed(2)} ms, run ${row.rawRunMs.toFixed(2)} ms`,
        );
        rows.push(row);
      }
    }
    await runner.close();
  }
  return rows;
}

export function formatRuntime(rows: RuntimeRow[]): string {
  return table(
    ['model', 'batch', 'context', 'step ms (median)', 'session.run ms', 'overhead'],
    rows.map((r) => [
      r.model,
      r.batch,
      r.context,
      r.stepMs.toFixed(2),
      r.rawRunMs.toFixed(2),
      r.overhead.toFixed(3),
    ]),
  );
}
