import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DecodingParams } from '../decoding/params.ts';
import { createEngine } from '../engine/engine.ts';
import type { Engine } from '../engine/types.ts';
import { QWEN05B_SHAPE, TINY, writeTestCheckpoint } from '../model/test-model.ts';
import { median, nowMs, table } from './stats.ts';

/**
 * `npm run bench:engine`: output tokens/s of the engine at concurrency 1, 4, 16, 64 against
 * one-at-a-time serving in the same run; engine overhead (step wall time / `session.run` time) at
 * batch 32; and peak KV bytes of one request of discrete n = 3 vs superposed k = 3.
 */

export interface EngineBenchRow {
  model: string;
  concurrency: number;
  tokensPerSecond: number;
  sequentialTokensPerSecond: number;
  speedup: number;
}

export interface EngineBenchResult {
  rows: EngineBenchRow[];
  overheadAtBatch32: Record<string, number>;
  peakKvBytes: Record<string, { discreteN3: number; superposedK3: number }>;
}

export const MODELS = {
  tiny: { shape: TINY, tokens: 64 },
  'qwen2.5-0.5b-shape': { shape: QWEN05B_SHAPE, tokens: 12 },
} as const;

/** Greedy answers of a fixed length: EOS is banned so every request generates exactly `tokens`. */
export function params(tokens: number, extra: DecodingParams = {}): DecodingParams {
  return {
    temperature: 0,
    max_tokens: tokens,
    logit_bias: { '256': -100, '258': -100 },
    thinking: { mode: 'off' },
    ...extra,
  };
}

/** Prompt `i` of the benchmarks: printable byte ids, 16 unless said otherwise. */
export function prompt(i: number, length = 16): number[] {
  return Array.from({ length }, (_, j) => 32 + ((i * 7 + j * 13) % 90));
}

export async function run(
  engine: Engine,
  id: string,
  i: number,
  p: DecodingParams,
  onEvent?: () => void,
  promptLength = 16,
): Promise<number> {
  let tokens = 0;
  for await (const ev of engine.generate({
    id,
    model: engine.models[0]!.name,
    prompt: prompt(i, promptLength),
    startsInThinking: false,
    params: p,
  })) {
    if (ev.type === 'content') tokens += ev.tokenIds.length;
    if (ev.type === 'error') throw ev.error;
    onEvent?.();
  }
  return tokens;
}

export async function throughput(
  engine: Engine,
  label: string,
  concurrency: number,
  tokens: number,
  reps: number,
): Promise<number> {
  const rates: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = nowMs();
    const counts = await Promise.all(
      Array.from({ length: concurrency }, (_, i) =>
        run(engine, `${label}-${concurrency}-${r}-${i}`, i, params(tokens)),
      ),
    );
    rates.push(counts.reduce((a, b) => a + b, 0) / ((nowMs() - t) / 1000));
  }
  return median(rates);
}

/** The random checkpoint `engine-NAME` of the engine benchmarks, written when missing. */
export async function benchCheckpoint(name: string, log: (s: string) => void): Promise<string> {
  const spec = MODELS[name as keyof typeof MODELS];
  if (!spec) throw new Error(`unknown model ${name}`);
  const dir = join(process.env.REVERIE_BENCH_DIR ?? join(tmpdir(), 'reverie-bench'), `engine-${name}`);
  if (!existsSync(join(dir, 'reverie.json'))) {
    log(`writing ${name} checkpoint to ${dir}`);
    await writeTestCheckpoint(dir, { ...spec.shape, seed: 1, name });
  }
  return dir;
}

export async function benchEngine(opts: {
  models: string[];
  log: (s: string) => void;
}): Promise<EngineBenchResult> {
  const result: EngineBenchResult = { rows: [], overheadAtBatch32: {}, peakKvBytes: {} };
  for (const name of opts.models) {
    const spec = MODELS[name as keyof typeof MODELS];
    const dir = await benchCheckpoint(name, opts.log);
    const engine = createEngine({
      checkpointDirs: [dir],
      maxNumSeqs: 64,
      maxBatchedTokens: 1024,
      prefixCache: false,
    });
    await engine.ready();
    const reps = name === 'tiny' ? 5 : 1;
    await throughput(engine, 'warm', 4, 4, 1);
    // One at a time: the same requests, each waiting for the previous one.
    const seqRates: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t = nowMs();
      let n = 0;
      for (let i = 0; i < 4; i++) n += await run(engine, `seq-${r}-${i}`, i, params(spec.tokens));
      seqRates.push(n / ((nowMs() - t) / 1000));
    }
    const sequential = median(seqRates);
    for (const c of [1, 4, 16, 64]) {
      const rate = await throughput(engine, 'conc', c, spec.tokens, reps);
      opts.log(
        `  ${name} concurrency ${c}: ${rate.toFixed(1)} tokens/s (sequential ${sequential.toFixed(1)})`,
      );
      result.rows.push({
        model: name,
        concurrency: c,
        tokensPerSecond: rate,
        sequentialTokensPerSecond: sequential,
        speedup: rate / sequential,
      });
    }
    // Overhead at batch 32: the stats' cumulative step and session.run times over a 32-request run.
    const before = engine.stats();
    await throughput(engine, 'ovh', 32, spec.tokens, 1);
    const after = engine.stats();
    result.overheadAtBatch32[name] =
      (after.stepTimeMs - before.stepTimeMs) / (after.forwardTimeMs - before.forwardTimeMs);
    // Peak KV of one request alone: n = 3 copies the prompt per sample, superposed keeps one row.
    const peak = async (id: string, p: DecodingParams) => {
      let max = 0;
      await run(engine, id, 0, p, () => {
        max = Math.max(max, engine.stats().kvBytes);
      });
      return max;
    };
    result.peakKvBytes[name] = {
      discreteN3: await peak('kv-n3', params(spec.tokens, { n: 3, temperature: 0.8, seed: 1 })),
      superposedK3: await peak('kv-k3', {
        max_tokens: spec.tokens,
        superposition: { drafts: 3 },
        thinking: { mode: 'off' },
      }),
    };
    await engine.close();
  }
  return result;
}

export function formatEngine(r: EngineBenchResult): string {
  const lines = [
    table(
      ['model', 'concurrency', 'tokens/s', 'sequential tokens/s', 'speed-up'],
      r.rows.map((x) => [
        x.model,
        x.concurrency,
        x.tokensPerSecond.toFixed(1),
        x.sequentialTokensPerSecond.toFixed(1),
        x.speedup.toFixed(2),
      ]),
    ),
    '',
    table(
      [
        'model',
        'overhead at batch 32 (step / session.run)',
        'peak KV n=3 (bytes)',
        'peak KV superposed k=3 (bytes)',
      ],
      Object.keys(r.overheadAtBatch32).map((m) => [
        m,
        r.overheadAtBatch32[m]!.toFixed(3),
        r.peakKvBytes[m]!.discreteN3,
        r.peakKvBytes[m]!.superposedK3,
      ]),
    ),
  ];
  return lines.join('\n');
}
