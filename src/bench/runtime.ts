import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGraph } from '../model/graph-cache.ts';
import { parseModelConfig } from '../model/hf-config.ts';
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

const SHAPES: Record<string, Required<Omit<TestModelOptions, 'seed'>>> = {
  tiny: TINY,
  'qwen2.5-0.5b-shape': QWEN05B_SHAPE,
};

/** Generated benchmark models live outside the repository; they are never committed. */
function benchModelDir(name: string): string {
  return join(process.env.REVERIE_BENCH_DIR ?? join(tmpdir(), 'reverie-bench'), name);
}

export async function openBenchModel(
  name: string,
  log: (s: string) => void,
  options: RunnerOptions = {},
): Promise<ModelRunner> {
  const dir = benchModelDir(name);
  if (!existsSync(join(dir, 'model.safetensors'))) {
    log(`writing random ${name} weights to ${dir}`);
    mkdirSync(dir, { recursive: true });
    writeRandomModel(dir, { ...SHAPES[name], seed: 1 });
  }
  const cfg = parseModelConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  const graph = await ensureGraph(dir, cfg, [join(dir, 'model.safetensors')], {
    onProgress: (m) => log(`  ${m}`),
  });
  return ModelRunner.open(graph.modelPath, cfg, options);
}

/** Prompt ids of `length` positions (values do not change timing). */
function filler(length: number, salt: number): Int32Array {
  return Int32Array.from({ length }, (_, i) => (i * 31 + salt * 7) % 200);
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
        // `batch` sequences of `context` positions, kept as they are: each timed step decodes on
        // a copy of one (an untimed step makes the copies and frees the last ones).
        const base = Array.from({ length: batch }, (_, b) => 1_000 + b);
        for (const [b, seq] of base.entries())
          await runner.step({ rows: [{ seq, count: context, bagSize: 1, ids: filler(context, b) }] });
        const work = (i: number) => base.map((_, b) => 10_000 + (i & 1) * 1_000 + b);
        const stepTimes: number[] = [];
        const runTimes: number[] = [];
        for (let i = -2; i < steps; i++) {
          await runner.step({
            frees: work(i + 1),
            copies: base.map((from, b) => ({ from, to: work(i)[b]!, length: context })),
            rows: [],
          });
          const decode = work(i).map((seq, b) => ({
            seq,
            count: 1,
            bagSize: 1,
            ids: Int32Array.of(b % 200),
          }));
          const forward = runner.forwardMs;
          const t = nowMs();
          await runner.step({ rows: decode });
          const step = nowMs() - t;
          if (i >= 0) {
            stepTimes.push(step);
            runTimes.push(runner.forwardMs - forward);
          }
        }
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
        await runner.step({ frees: [...base, ...work(0), ...work(1)], rows: [] });
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
