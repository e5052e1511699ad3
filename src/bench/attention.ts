import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseModelConfig } from '../model/hf-config.ts';
import { type AttentionDesign, buildDecoderGraph, IO } from '../model/onnx/decoder-graph.ts';
import { writeModel } from '../model/onnx/write-model.ts';
import { hfConfig, QWEN05B_SHAPE, randomWeights } from '../model/test-model.ts';
import { median, nowMs, table } from './stats.ts';

/**
 * `reverie bench attention`: the measurement behind the attention design. The same decoder (Qwen2.5-0.5B
 * layer shapes, 4 layers) is built with standard-op attention and with ORT's GroupQueryAttention, and a
 * decode step is timed with `session.run` at batch 1/8/32 and context 64/512, outputs fetched as the
 * runner would (the binding copies every fetched output).
 */

export interface AttentionRow {
  batch: number;
  context: number;
  standardMs: number;
  gqaMs: number;
  ratio: number;
}

function feedsFor(design: AttentionDesign, cfg: ReturnType<typeof parseModelConfig>, B: number, P: number) {
  const { hiddenSize: D, numKvHeads: Hk, headDim: hd } = cfg;
  const f: Record<string, ort.Tensor> = {
    [IO.inputIds]: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: B }, (_, b) => BigInt(b)),
      [B, 1, 1],
    ),
    [IO.inputWeights]: new ort.Tensor('float32', new Float32Array(B).fill(1), [B, 1, 1]),
    [IO.embedsAdd]: new ort.Tensor('float32', new Float32Array(B * D), [B, 1, D]),
    [IO.positionIds]: new ort.Tensor('int64', new BigInt64Array(B).fill(BigInt(P)), [B, 1]),
    [IO.outputIndex]: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: B }, (_, b) => BigInt(b)),
      [B],
    ),
    [IO.denseWeights]: new ort.Tensor('float32', new Float32Array(0), [0, cfg.vocabSize]),
    [IO.denseIndex]: new ort.Tensor('int64', new BigInt64Array(0), [0]),
  };
  if (design === 'standard')
    f[IO.attentionMask] = new ort.Tensor('float32', new Float32Array(B * (P + 1)), [B, 1, P + 1]);
  else {
    f.seqlens_k = new ort.Tensor('int32', new Int32Array(B).fill(P), [B]);
    f.total_sequence_length = new ort.Tensor('int32', Int32Array.of(P + 1), []);
  }
  const past = Float32Array.from({ length: B * Hk * P * hd }, (_, i) => Math.sin(i) * 0.5);
  for (let l = 0; l < cfg.numLayers; l++) {
    f[IO.pastKey(l)] = new ort.Tensor('float32', past, [B, Hk, P, hd]);
    f[IO.pastValue(l)] = new ort.Tensor('float32', past, [B, Hk, P, hd]);
  }
  return f;
}

export async function benchAttention(opts: {
  steps?: number;
  log: (s: string) => void;
}): Promise<AttentionRow[]> {
  const shape = { ...QWEN05B_SHAPE, numLayers: 4, vocabSize: 4096 };
  const cfg = parseModelConfig(hfConfig(shape));
  const weights = randomWeights(shape, 1);
  const dir = join(tmpdir(), 'reverie-bench', 'attention');
  mkdirSync(dir, { recursive: true });
  const sessions = {} as Record<AttentionDesign, ort.InferenceSession>;
  for (const design of ['standard', 'gqa'] as const) {
    const file = join(dir, `${design}.onnx`);
    writeModel(buildDecoderGraph(cfg, weights, { dtype: 'fp32', attention: design }), file, design);
    sessions[design] = await ort.InferenceSession.create(file, {
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
  }
  const rows: AttentionRow[] = [];
  const steps = opts.steps ?? 20;
  for (const context of [64, 512]) {
    for (const batch of [1, 8, 32]) {
      const times: Record<AttentionDesign, number[]> = { standard: [], gqa: [] };
      const feeds = {
        standard: feedsFor('standard', cfg, batch, context),
        gqa: feedsFor('gqa', cfg, batch, context),
      };
      for (let i = -2; i < steps; i++) {
        for (const design of ['standard', 'gqa'] as const) {
          const t = nowMs();
          await sessions[design].run(feeds[design]);
          if (i >= 0) times[design].push(nowMs() - t);
        }
      }
      const row = { batch, context, standardMs: median(times.standard), gqaMs: median(times.gqa), ratio: 0 };
      row.ratio = row.standardMs / row.gqaMs;
      opts.log(
        `  batch ${batch} context ${context}: standard ${row.standardMs.toFixed(2)} ms, gqa ${row.gqaMs.toFixed(2)} ms`,
      );
      rows.push(row);
    }
  }
  for (const s of Object.values(sessions)) await s.release();
  return rows;
}

export function formatAttention(rows: AttentionRow[]): string {
  return table(
    ['batch', 'context', 'standard ms', 'GQA ms', 'standard / GQA'],
    rows.map((r) => [r.batch, r.context, r.standardMs.toFixed(2), r.gqaMs.toFixed(2), r.ratio.toFixed(2)]),
  );
}
