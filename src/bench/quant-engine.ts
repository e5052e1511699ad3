import { createEngine } from '../engine/engine.ts';
import type { Engine } from '../engine/types.ts';
import { benchCheckpoint, params, run, throughput } from './engine.ts';
import type { WeightsLabel } from './quant-runtime.ts';
import { median, nowMs, table } from './stats.ts';

/**
 * `bench engine`'s weight-quantization table: one engine per weights (fp32, int8, int4) on the
 * same random checkpoint, all loaded at once, each measurement taken in turn on each engine
 * (interleaved, medians of `reps`): output tokens/s of one stream and of 8 concurrent streams
 * (16-token prompts, greedy, fixed length), and the time to first token of a 512-token prompt.
 */

export interface QuantEngineRow {
  model: string;
  weights: WeightsLabel;
  /** Output tokens/s of one request at a time. */
  single: number;
  /** Output tokens/s of 8 concurrent requests together. */
  concurrent8: number;
  /** Time to first token of a 512-token prompt, ms. */
  ttft512Ms: number;
}

/** Output tokens per request: enough that the 16-token prefill is a small share. */
const TOKENS: Record<string, number> = { tiny: 64, 'qwen2.5-0.5b-shape': 24 };

async function ttft(engine: Engine, id: string): Promise<number> {
  const started = nowMs();
  let first = Number.NaN;
  await run(
    engine,
    id,
    3,
    params(1),
    () => {
      if (Number.isNaN(first)) first = nowMs() - started;
    },
    512,
  );
  return first;
}

export async function benchQuantEngine(opts: {
  models: string[];
  weights?: WeightsLabel[];
  reps?: number;
  log: (s: string) => void;
}): Promise<QuantEngineRow[]> {
  const labels = opts.weights ?? ['fp32', 'int8', 'int4'];
  const rows: QuantEngineRow[] = [];
  for (const name of opts.models) {
    const dir = await benchCheckpoint(name, opts.log);
    const engines: Engine[] = [];
    // One at a time: each may convert its graph first, and conversions of a large model at once
    // would hold every copy of the weights together.
    for (const label of labels) {
      opts.log(`  ${name}: loading the ${label} engine`);
      const engine = createEngine({
        checkpointDirs: [dir],
        maxNumSeqs: 64,
        maxBatchedTokens: 1024,
        prefixCache: false,
        quantization: label === 'fp32' ? 'none' : label,
      });
      await engine.ready();
      await throughput(engine, 'warm', 2, 2, 1);
      engines.push(engine);
    }
    const tokens = TOKENS[name] ?? 16;
    const reps = opts.reps ?? (name === 'tiny' ? 5 : 3);
    const single: number[][] = engines.map(() => []);
    const c8: number[][] = engines.map(() => []);
    const first: number[][] = engines.map(() => []);
    for (let r = 0; r < reps; r++) {
      opts.log(`  ${name}: repetition ${r + 1}/${reps}`);
      for (const [j, e] of engines.entries()) single[j]!.push(await throughput(e, `c1-${r}`, 1, tokens, 1));
      for (const [j, e] of engines.entries()) c8[j]!.push(await throughput(e, `c8-${r}`, 8, tokens, 1));
      for (const [j, e] of engines.entries()) first[j]!.push(await ttft(e, `ttft-${r}`));
    }
    labels.forEach((weights, j) => {
      rows.push({
        model: name,
        weights,
        single: median(single[j]!),
        concurrent8: median(c8[j]!),
        ttft512Ms: median(first[j]!),
      });
    });
    for (const e of engines) await e.close();
  }
  return rows;
}

export function formatQuantEngine(rows: QuantEngineRow[]): string {
  const base = (r: QuantEngineRow) => rows.find((x) => x.model === r.model && x.weights === 'fp32');
  const ratio = (v: number, ref: number | undefined) =>
    ref === undefined ? '' : ` (×${(v / ref).toFixed(2)})`;
  return table(
    [
      'model',
      'weights',
      '1 stream tok/s (speed-up)',
      '8 concurrent tok/s (speed-up)',
      'TTFT 512-token prompt ms (vs fp32)',
    ],
    rows.map((r) => [
      r.model,
      r.weights,
      `${r.single.toFixed(1)}${ratio(r.single, base(r)?.single)}`,
      `${r.concurrent8.toFixed(1)}${ratio(r.concurrent8, base(r)?.concurrent8)}`,
      `${r.ttft512Ms.toFixed(0)}${ratio(r.ttft512Ms, base(r)?.ttft512Ms)}`,
    ]),
  );
}
