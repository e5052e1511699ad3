import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGraph, type GraphInfo } from '../model/graph-cache.ts';
import { parseModelConfig } from '../model/hf-config.ts';
import type { QuantSpec } from '../model/quantization.ts';
import { ModelRunner } from '../model/runner.ts';
import { QWEN05B_SHAPE, type TestModelOptions, TINY, writeRandomModel } from '../model/test-model.ts';
import { median, nowMs, table } from './stats.ts';

/**
 * `npm run bench:runtime`: median decode-step time at batch 1/8/32 and context 64/512, for the
 * tiny model and a random model of Qwen2.5-0.5B's shape, and the runner's overhead over a raw
 * `session.run` on the same feeds (measured interleaved, in one run).
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
): Promise<ModelRunner> {
  const graph = await benchGraph(name, log, quantization);
  return ModelRunner.open(graph.modelPath, graph.config);
}

/** Fills `batch` sequences with `context` cached positions of random KV (values do not change timing). */
export function seedKv(runner: ModelRunner, batch: number, context: number): void {
  const { numLayers, numKvHeads, headDim } = runner.config;
  const n = numKvHeads * context * headDim;
  const block = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5);
  const layers = Array.from({ length: numLayers }, () => block);
  for (let b = 0; b < batch; b++) {
    runner.kv.free(b);
    runner.kv.append(b, 0, context, context, layers, layers);
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
        seedKv(runner, batch, context);
        const decode = Array.from({ length: batch }, (_, b) => ({
          seq: b,
          count: 1,
          bagSize: 1,
          ids: Int32Array.of(b % 200),
        }));
        const stepTimes: number[] = [];
        const rawTimes: number[] = [];
        for (let i = -2; i < steps; i++) {
          let t = nowMs();
          await runner.step(decode);
          const step = nowMs() - t;
          for (let b = 0; b < batch; b++) runner.kv.truncate(b, context);
          const feeds = runner.prepareFeeds(decode);
          t = nowMs();
          await runner.run(feeds);
          const raw = nowMs() - t;
          if (i >= 0) {
            stepTimes.push(step);
            rawTimes.push(raw);
          }
        }
        const row = {
          model: name,
          batch,
          context,
          stepMs: median(stepTimes),
          rawRunMs: median(rawTimes),
          overhead: median(stepTimes) / median(rawTimes),
        };
        opts.log(
          `  ${name} batch ${batch} context ${context}: step ${row.stepMs.toFixed(2)} ms, run ${row.rawRunMs.toFixed(2)} ms`,
        );
        rows.push(row);
      }
    }
    for (let b = 0; b < 32; b++) runner.kv.free(b);
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
