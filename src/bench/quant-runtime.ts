import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { QuantSpec } from '../model/quantization.ts';
import { defaultSpec } from '../model/quantization.ts';
import { ModelRunner } from '../model/runner.ts';
import { benchGraph, FixedContext } from './runtime.ts';
import { meanKl, median, nowMs, table } from './stats.ts';

/**
 * `bench runtime`'s weight-quantization table: the same random model as float, int8 and int4
 * graphs opened side by side, each measurement taken in turn on the three (interleaved, medians),
 * so the ratios come from one run on one machine state:
 *
 * - decode-step time at batch 1 and 8 (context 128), and the time of one 512-token prefill;
 * - mean KL(float ‖ quantized) of the next-token distributions over a 256-token prompt;
 * - graph size on disk and peak RSS of a process that opens the graph, prefills 512 tokens and
 *   decodes 16 (each graph in its own process: rss-probe.ts).
 */

/** The weights the engine and quality benches compare: float, or the default int8 / int4 spec. */
export type WeightsLabel = 'fp32' | 'int8' | 'int4';

const int8 = defaultSpec('int8')!;
const int4 = defaultSpec('int4')!;

/**
 * The graphs `bench runtime --quant` can compare: the served three, and the alternatives the
 * defaults were chosen against (docs/quantization.md): int8 through ORT's DynamicQuantizeMatMul
 * (per-tensor activations) or MatMulNBits (8-bit blocks of 32), int8 weights stored as uint8 (what
 * CPUs without VNNI get), symmetric int4 blocks, and int4 or float head and embedding.
 */
export const RUNTIME_WEIGHTS: Record<string, QuantSpec | null> = {
  fp32: null,
  int8,
  int4,
  'int8-dqmm': { ...int8, int8Kernel: 'dynamic-quantize-matmul' },
  'int8-nbits': { ...int8, int8Kernel: 'matmul-nbits' },
  'int8-u8u8': { ...int8, unsignedInt8: true },
  'int4-sym': { ...int4, zeroPoints: false },
  'int4-head4': { ...int4, lmHead: 'int4', embedding: 'int4' },
  'int4-fhead': { ...int4, lmHead: 'none', embedding: 'none' },
};

export interface QuantRuntimeRow {
  model: string;
  /** A key of RUNTIME_WEIGHTS. */
  weights: string;
  decode1Ms: number;
  decode8Ms: number;
  prefill512Ms: number;
  /** Mean KL(fp32 ‖ this) in nats over 256 positions; 0 for fp32 itself. */
  meanKl: number;
  graphBytes: number;
  peakRssBytes: number;
}

const CONTEXT = 128;
const KL_POSITIONS = 256;

/** 0..n−1 starting at round mod n. */
function rotation(n: number, round: number): number[] {
  return Array.from({ length: n }, (_, k) => (((round + k) % n) + n) % n);
}

async function stepTimes(runners: ModelRunner[], batch: number, reps: number): Promise<number[]> {
  const times: number[][] = runners.map(() => []);
  const fixed = runners.map((r) => new FixedContext(r, batch, CONTEXT));
  for (const f of fixed) await f.seed();
  for (let i = -1; i < reps; i++) {
    // A different graph goes first each round, so none always follows the same neighbour.
    for (const j of rotation(runners.length, i)) {
      const rows = await fixed[j]!.next();
      const t = nowMs();
      await runners[j]!.step({ rows });
      if (i >= 0) times[j]!.push(nowMs() - t);
    }
  }
  for (const f of fixed) await f.free();
  return times.map(median);
}

async function prefillTimes(runners: ModelRunner[], reps: number): Promise<number[]> {
  const vocab = runners[0]!.config.vocabSize;
  const ids = Int32Array.from({ length: 512 }, (_, i) => (i * 7919 + 13) % vocab);
  const times: number[][] = runners.map(() => []);
  for (let i = 0; i < reps; i++) {
    for (const j of rotation(runners.length, i)) {
      const r = runners[j]!;
      const t = nowMs();
      await r.step({ rows: [{ seq: 100, count: ids.length, bagSize: 1, ids }] });
      times[j]!.push(nowMs() - t);
      await r.step({ frees: [100], rows: [] });
    }
  }
  return times.map(median);
}

/** Mean over positions of KL(P ‖ Q) = Σ p (log p − log q), P from runner `ref` (NaN without one). */
async function meanKls(runners: ModelRunner[], ref: number): Promise<number[]> {
  const { vocabSize: V } = runners[0]!.config;
  let x = 12345;
  const ids = Int32Array.from({ length: KL_POSITIONS }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x % Math.min(V, 50_000);
  });
  const logits: Float32Array[] = [];
  for (const r of runners) {
    logits.push(
      (await r.step({ rows: [{ seq: 200, count: ids.length, bagSize: 1, ids, allPositions: true }] })).logits,
    );
    await r.step({ frees: [200], rows: [] });
  }
  return logits.map((q) => (ref < 0 ? Number.NaN : meanKl(logits[ref]!, q, V)));
}

/** Peak RSS of a separate process serving `modelPath` (see rss-probe.ts). */
async function peakRss(modelPath: string, configPath: string): Promise<number> {
  const probe = join(import.meta.dirname, 'rss-probe.ts');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', probe, modelPath, configPath],
    {
      maxBuffer: 1 << 20,
    },
  );
  return (JSON.parse(stdout.trim().split('\n').pop()!) as { peakRssBytes: number }).peakRssBytes;
}

export async function benchQuantRuntime(opts: {
  models: string[];
  weights?: string[];
  reps?: number;
  log: (s: string) => void;
}): Promise<QuantRuntimeRow[]> {
  const labels = opts.weights ?? ['fp32', 'int8', 'int4'];
  const rows: QuantRuntimeRow[] = [];
  for (const name of opts.models) {
    const tiny = name === 'tiny';
    const graphs = [];
    for (const label of labels) {
      if (!(label in RUNTIME_WEIGHTS))
        throw new Error(`unknown weights ${label}; known: ${Object.keys(RUNTIME_WEIGHTS).join(', ')}`);
      graphs.push(await benchGraph(name, opts.log, RUNTIME_WEIGHTS[label]!));
    }
    const runners = await Promise.all(graphs.map((g) => ModelRunner.open(g.modelPath, g.config)));
    const reps = opts.reps ?? (tiny ? 30 : 16);
    opts.log(`  ${name}: decode batch 1`);
    const d1 = await stepTimes(runners, 1, reps);
    opts.log(`  ${name}: decode batch 8`);
    const d8 = await stepTimes(runners, 8, reps);
    opts.log(`  ${name}: prefill 512`);
    const p512 = await prefillTimes(runners, tiny ? 10 : 3);
    opts.log(`  ${name}: KL over ${KL_POSITIONS} positions`);
    const kls = await meanKls(runners, labels.indexOf('fp32'));
    for (const r of runners) await r.close();
    for (const [j, g] of graphs.entries()) {
      opts.log(`  ${name}: peak RSS of ${g.modelPath}`);
      rows.push({
        model: name,
        weights: labels[j]!,
        decode1Ms: d1[j]!,
        decode8Ms: d8[j]!,
        prefill512Ms: p512[j]!,
        meanKl: kls[j]!,
        graphBytes: statSync(g.modelPath).size + statSync(`${g.modelPath}.data`).size,
        peakRssBytes: await peakRss(g.modelPath, join(dirname(g.modelPath), 'config.json')),
      });
    }
  }
  return rows;
}

export function formatQuantRuntime(rows: QuantRuntimeRow[]): string {
  const base = (r: QuantRuntimeRow) => rows.find((x) => x.model === r.model && x.weights === 'fp32');
  const withRatio = (ms: number, ref: number | undefined) =>
    ref === undefined ? ms.toFixed(2) : `${ms.toFixed(2)} (×${(ref / ms).toFixed(2)})`;
  const mb = (b: number) => (b / 2 ** 20).toFixed(b < 2 ** 24 ? 1 : 0);
  return table(
    [
      'model',
      'weights',
      'decode b1 ms (speed-up)',
      'decode b8 ms (speed-up)',
      'prefill 512 ms (speed-up)',
      `mean KL(fp32‖q), ${KL_POSITIONS} pos`,
      'graph MiB',
      'peak RSS MiB',
    ],
    rows.map((r) => [
      r.model,
      r.weights,
      withRatio(r.decode1Ms, base(r)?.decode1Ms),
      withRatio(r.decode8Ms, base(r)?.decode8Ms),
      withRatio(r.prefill512Ms, base(r)?.prefill512Ms),
      r.meanKl.toExponential(2),
      mb(r.graphBytes),
      mb(r.peakRssBytes),
    ]),
  );
}
