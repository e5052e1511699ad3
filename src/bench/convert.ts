import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../decoding/rng.ts';
import { writeByteTokenizerFiles } from '../model/byte-tokenizer.ts';
import {
  type SafetensorsDType,
  type TensorToWrite,
  writeSafetensorsStreaming,
} from '../model/safetensors.ts';
import { hfConfig, QWEN05B_SHAPE, QWEN15B_SHAPE, type TestModelOptions } from '../model/test-model.ts';
import { table } from './stats.ts';

/**
 * `npm run bench:convert`: the memory and time `reverie convert` takes on a real-sized checkpoint.
 * It writes a random bf16 checkpoint of the chosen shape into a temp folder (tensor by tensor, never
 * committed), runs `reverie convert` on it in a child process under `/usr/bin/time -v` once per
 * weights asked for (`fp32`, `fp16`, `int8`, `int4`: `--dtype` or `--quant`, each quantized tensor
 * as it is read), reports the peak resident memory and wall time of each, and deletes the folder.
 */

export const CONVERT_SHAPES: Record<string, Required<Omit<TestModelOptions, 'seed'>>> = {
  // Qwen2.5-1.5B / DeepSeek-R1-Distill-Qwen-1.5B: hidden 1536, 28 layers, 12 heads, 2 KV heads.
  'qwen2.5-1.5b': QWEN15B_SHAPE,
  // Qwen3-0.6B: hidden 1024, 28 layers, 16 heads, 8 KV heads of 128, q/k norms, tied.
  'qwen3-0.6b': {
    ...QWEN05B_SHAPE,
    architecture: 'Qwen3ForCausalLM',
    hiddenSize: 1024,
    intermediateSize: 3072,
    numLayers: 28,
    numHeads: 16,
    numKvHeads: 8,
    headDim: 128,
    maxPositions: 40960,
  },
};

export interface ConvertBenchResult {
  shape: string;
  parameters: number;
  weightBytes: number;
  graphBytes: number;
  peakRssMiB: number;
  wallSeconds: number;
  /** fp32, fp16, int8 or int4. */
  weights: ConvertWeights;
}

/** What a conversion writes: float weights of a dtype, or quantized ones. */
export type ConvertWeights = 'fp32' | 'fp16' | 'int8' | 'int4';

/** convert's flags for `weights`. */
function weightFlags(weights: ConvertWeights): string[] {
  return weights === 'fp32' || weights === 'fp16' ? ['--dtype', weights] : ['--quant', weights];
}

/** The tensors of a shape with their Hugging Face names, values drawn when written. */
function randomTensors(o: Required<Omit<TestModelOptions, 'seed'>>): Map<string, TensorToWrite> {
  const rng = new Rng(0x9e3779b9);
  // Uniform in [−a, a]: values do not matter for timing, only their count and type.
  const values = (shape: number[], a: number) => () => {
    const out = new Float32Array(shape.reduce((x, y) => x * y, 1));
    for (let i = 0; i < out.length; i++) out[i] = (rng.next() - 0.5) * 2 * a;
    return out;
  };
  const t = (shape: number[], a = 0.02): TensorToWrite => ({ shape, values: values(shape, a) });
  const ones = (n: number): TensorToWrite => ({ shape: [n], values: () => new Float32Array(n).fill(1) });
  const D = o.hiddenSize;
  const q = o.numHeads * o.headDim;
  const kv = o.numKvHeads * o.headDim;
  const w = new Map<string, TensorToWrite>();
  w.set('model.embed_tokens.weight', t([o.vocabSize, D]));
  if (!o.tieEmbeddings) w.set('lm_head.weight', t([o.vocabSize, D]));
  w.set('model.norm.weight', ones(D));
  for (let l = 0; l < o.numLayers; l++) {
    const p = `model.layers.${l}`;
    w.set(`${p}.input_layernorm.weight`, ones(D));
    w.set(`${p}.post_attention_layernorm.weight`, ones(D));
    w.set(`${p}.self_attn.q_proj.weight`, t([q, D]));
    w.set(`${p}.self_attn.k_proj.weight`, t([kv, D]));
    w.set(`${p}.self_attn.v_proj.weight`, t([kv, D]));
    if (o.architecture === 'Qwen2ForCausalLM') {
      w.set(`${p}.self_attn.q_proj.bias`, t([q]));
      w.set(`${p}.self_attn.k_proj.bias`, t([kv]));
      w.set(`${p}.self_attn.v_proj.bias`, t([kv]));
    }
    if (o.architecture === 'Qwen3ForCausalLM') {
      w.set(`${p}.self_attn.q_norm.weight`, ones(o.headDim));
      w.set(`${p}.self_attn.k_norm.weight`, ones(o.headDim));
    }
    w.set(`${p}.self_attn.o_proj.weight`, t([D, q]));
    w.set(`${p}.mlp.gate_proj.weight`, t([o.intermediateSize, D]));
    w.set(`${p}.mlp.up_proj.weight`, t([o.intermediateSize, D]));
    w.set(`${p}.mlp.down_proj.weight`, t([D, o.intermediateSize]));
  }
  return w;
}

/** Writes a random checkpoint folder of `shape` (weights in `dtype`, config, byte tokenizer files). */
export async function writeRandomCheckpoint(
  dir: string,
  shape: string,
  dtype: SafetensorsDType,
): Promise<number> {
  const o = CONVERT_SHAPES[shape];
  if (!o) throw new Error(`unknown shape ${shape} (shapes: ${Object.keys(CONVERT_SHAPES).join(', ')})`);
  const tensors = randomTensors(o);
  writeFileSync(
    join(dir, 'config.json'),
    `${JSON.stringify({ ...hfConfig(o), torch_dtype: 'bfloat16' }, null, 2)}\n`,
  );
  writeFileSync(join(dir, 'generation_config.json'), `${JSON.stringify({ eos_token_id: [258, 256] })}\n`);
  await writeByteTokenizerFiles(dir);
  writeSafetensorsStreaming(join(dir, 'model.safetensors'), tensors, { dtype, metadata: { format: 'pt' } });
  let parameters = 0;
  for (const t of tensors.values()) parameters += t.shape.reduce((a, b) => a * b, 1);
  return parameters;
}

const CLI = join(import.meta.dirname, '..', 'cli', 'main.ts');

/** Peak RSS (KiB) and wall time of a child process, from GNU time's verbose report. */
function parseTime(report: string): { rssKiB: number; seconds: number } {
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(report);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(report);
  if (!rss || !wall) throw new Error(`cannot read /usr/bin/time's report:\n${report.slice(-2000)}`);
  return {
    rssKiB: Number(rss[1]),
    seconds: Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]),
  };
}

export async function benchConvert(opts: {
  shape: string;
  /** One conversion each, of the same checkpoint; default fp32. */
  weights?: ConvertWeights[];
  keep?: boolean;
  log: (s: string) => void;
}): Promise<ConvertBenchResult[]> {
  if (!existsSync('/usr/bin/time'))
    throw new Error('bench convert needs GNU time (/usr/bin/time; Debian: apt-get install time)');
  const dir = mkdtempSync(join(tmpdir(), `reverie-bench-convert-${opts.shape}-`));
  try {
    opts.log(`writing a random bf16 ${opts.shape} checkpoint to ${dir}`);
    const parameters = await writeRandomCheckpoint(dir, opts.shape, 'BF16');
    const weightBytes = statSync(join(dir, 'model.safetensors')).size;
    opts.log(
      `  ${(parameters / 1e9).toFixed(2)}B parameters, ${(weightBytes / 1e9).toFixed(2)} GB; converting`,
    );
    const results: ConvertBenchResult[] = [];
    for (const weights of opts.weights ?? ['fp32']) {
      const before = new Set(readdirSync(dir));
      const run = spawnSync(
        '/usr/bin/time',
        ['-v', process.execPath, '--import', 'tsx', CLI, 'convert', dir, ...weightFlags(weights)],
        { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      );
      for (const line of run.stderr.split('\n').filter((l) => /^ {2}(graph|architecture)|^wrote/.test(l)))
        opts.log(line);
      if (run.status !== 0) throw new Error(`convert failed:\n${run.stderr.slice(-4000)}`);
      const { rssKiB, seconds } = parseTime(run.stderr);
      // This conversion's graph: the model files it added (an earlier run's stay beside it).
      const graphBytes = readdirSync(dir)
        .filter((f) => f.startsWith('model') && f.includes('.onnx') && !before.has(f))
        .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
      results.push({
        shape: opts.shape,
        parameters,
        weightBytes,
        graphBytes,
        peakRssMiB: rssKiB / 1024,
        wallSeconds: seconds,
        weights,
      });
    }
    return results;
  } finally {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}

export function formatConvert(rows: ConvertBenchResult[]): string {
  return table(
    ['shape', 'parameters', 'bf16 weights GB', 'graph', 'graph GB', 'peak RSS MiB', 'wall s'],
    rows.map((r) => [
      r.shape,
      `${(r.parameters / 1e9).toFixed(2)}B`,
      (r.weightBytes / 1e9).toFixed(2),
      r.weights,
      (r.graphBytes / 1e9).toFixed(2),
      r.peakRssMiB.toFixed(0),
      r.wallSeconds.toFixed(1),
    ]),
  );
}
