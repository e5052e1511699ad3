import { ensureGraph } from '../model/graph-cache.ts';
import { ModelRunner } from '../model/runner.ts';
import { benchGraph, benchModelDir } from './runtime.ts';
import { median, nowMs, table } from './stats.ts';

/**
 * `npm run bench:runtime -- --kv-path`: what device-resident KV (resident-kv.ts) costs the CPU
 * path, in one run. Three ways to decode the same batch, step after step:
 * - `before`: the graph without the whole-cache outputs (as built before they existed), the
 *   ordinary path (past gathered from the host store, new positions appended);
 * - `after`: today's graph (with `cache_key_{l}`/`cache_value_{l}`, not fetched), the same path:
 *   what every CPU server runs;
 * - `resident`: today's graph with the cache kept as the last step's output tensors. On the CPU
 *   those are host tensors the binding copies out of every run, so this is no speed-up here; it
 *   is the path WebGPU takes with `gpu-buffer` outputs (scripts/gpu-check.sh measures it there).
 */

export interface KvPathRow {
  model: string;
  batch: number;
  context: number;
  beforeMs: number;
  afterMs: number;
  residentMs: number;
}

export async function benchKvPath(opts: {
  models: string[];
  steps?: number;
  log: (s: string) => void;
}): Promise<KvPathRow[]> {
  const out: KvPathRow[] = [];
  for (const name of opts.models) {
    const graph = await benchGraph(name, opts.log);
    const before = await ensureGraph(
      benchModelDir(name),
      graph.config,
      [`${benchModelDir(name)}/model.safetensors`],
      {
        cacheOutputs: false,
        onProgress: (m) => opts.log(`  ${m}`),
      },
    );
    const open = (path: string, residentKv: boolean) => ModelRunner.open(path, graph.config, { residentKv });
    const runners = {
      before: await open(before.modelPath, false),
      after: await open(graph.modelPath, false),
      resident: await open(graph.modelPath, true),
    };
    const steps = opts.steps ?? (name === 'tiny' ? 40 : 8);
    for (const context of [64, 512]) {
      for (const batch of [1, 8]) {
        const times: Record<keyof typeof runners, number[]> = { before: [], after: [], resident: [] };
        const seqs = Array.from({ length: batch }, (_, b) => b + 1);
        for (const runner of Object.values(runners)) {
          for (const seq of seqs) {
            const ids = Int32Array.from({ length: context }, (_, i) => (i * 31 + seq * 7) % 200);
            await runner.step({ rows: [{ seq, count: context, bagSize: 1, ids }] });
          }
        }
        // Interleaved, so a noisy neighbour slows the three alike.
        for (let i = -2; i < steps; i++) {
          for (const [key, runner] of Object.entries(runners) as [keyof typeof runners, ModelRunner][]) {
            const rows = seqs.map((seq) => ({
              seq,
              count: 1,
              bagSize: 1,
              ids: Int32Array.of((seq + i + 2) % 200),
            }));
            const t = nowMs();
            await runner.step({ rows });
            if (i >= 0) times[key].push(nowMs() - t);
          }
        }
        for (const runner of Object.values(runners)) await runner.step({ frees: seqs, rows: [] });
        const row = {
          model: name,
          batch,
          context,
          beforeMs: median(times.before),
          afterMs: median(times.after),
          residentMs: median(times.resident),
        };
        opts.log(
          `  ${name} batch ${batch} context ${context}: before ${row.beforeMs.toFixed(2)} ms, after ${row.afterMs.toFixed(2)} ms, resident ${row.residentMs.toFixed(2)} ms`,
        );
        out.push(row);
      }
    }
    for (const runner of Object.values(runners)) await runner.close();
  }
  return out;
}

export function formatKvPath(rows: KvPathRow[]): string {
  return table(
    [
      'model',
      'batch',
      'context',
      'before ms',
      'after ms',
      'after/before',
      'resident (host) ms',
      'resident/after',
    ],
    rows.map((r) => [
      r.model,
      r.batch,
      r.context,
      r.beforeMs.toFixed(2),
      r.afterMs.toFixed(2),
      (r.afterMs / r.beforeMs).toFixed(3),
      r.residentMs.toFixed(2),
      (r.residentMs / r.afterMs).toFixed(3),
    ]),
  );
}
