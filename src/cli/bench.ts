import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchQuality, formatQuality } from '../bench/accuracy.ts';
import { benchAttention, formatAttention } from '../bench/attention.ts';
import { benchConvert, type ConvertWeights, formatConvert } from '../bench/convert.ts';
import { benchDecoding, formatDecoding } from '../bench/decoding.ts';
import { benchEngine, formatEngine } from '../bench/engine.ts';
import { benchKvPath, formatKvPath } from '../bench/kv-path.ts';
import { benchMemory, formatMemory } from '../bench/memory.ts';
import { benchQuantEngine, formatQuantEngine } from '../bench/quant-engine.ts';
import { benchKernels, formatKernels, KERNEL_VARIANTS } from '../bench/quant-kernels.ts';
import {
  benchQuantRuntime,
  formatQuantRuntime,
  RUNTIME_WEIGHTS,
  type WeightsLabel,
} from '../bench/quant-runtime.ts';
import { benchRuntime, formatRuntime } from '../bench/runtime.ts';
import { benchStructured, formatStructured } from '../bench/structured.ts';
import { defaultCheckpointDir } from '../model/model-dir.ts';
import { benchServeCommand } from './bench-serve.ts';

/**
 * `reverie bench runtime|attention|decoding|engine [--models tiny,qwen2.5-0.5b-shape] [--steps N]
 * [--quant fp32,int8,int4] [--quant-only] [--kv-path] [--json]` (`--quant`: the weights runtime and engine
 * compare; empty: none; `--quant-only`: runtime's quantization table alone; `--kv-path`: runtime's
 * table of the graph before/after the whole-cache outputs and the resident-KV path, kv-path.ts),
 * `reverie bench kernels [--layers 8] [--quant …]` (the Linear layers alone per integer kernel, every
 * variant unless `--quant` names some; quant-kernels.ts),
 * `reverie bench quality [--model DIR] [--testset FILE] [--quant …] [--thinking hard,soft]` (greedy
 * accuracy of a checkpoint's test set per weights; default: the default checkpoint and its fixture),
 * `reverie bench memory [--checkpoint DIR] [--rounds N] [--concurrency C] [--json]`,
 * `reverie bench convert [--shape qwen2.5-1.5b|qwen3-0.6b] [--dtype fp32|fp16] [--quant fp32,int8,int4] [--keep] [--json]`
 * (peak RSS and time of converting a random bf16 checkpoint, once per weights),
 * `reverie bench structured [--vocabs byte,qwen3,llama3] [--json]`,
 * or `reverie bench serve [options]` (a load client for a running server; see bench-serve.ts).
 */
export async function benchCommand(argv: string[]): Promise<void> {
  const [which, ...rest] = argv;
  if (which === 'serve') return benchServeCommand(rest);
  const { values } = parseArgs({
    args: rest,
    options: {
      json: { type: 'boolean', default: false },
      models: { type: 'string', default: 'tiny,qwen2.5-0.5b-shape' },
      steps: { type: 'string' },
      quant: { type: 'string' },
      'quant-only': { type: 'boolean', default: false },
      'kv-path': { type: 'boolean', default: false },
      layers: { type: 'string' },
      model: { type: 'string' },
      testset: { type: 'string' },
      thinking: { type: 'string', default: 'hard' },
      checkpoint: { type: 'string' },
      rounds: { type: 'string', default: '20' },
      concurrency: { type: 'string', default: '64' },
      shape: { type: 'string', default: 'qwen2.5-1.5b' },
      dtype: { type: 'string', default: 'fp32' },
      keep: { type: 'boolean', default: false },
      vocabs: { type: 'string' },
    },
  });
  // runtime, quality and kernels also compare the alternatives the defaults were chosen against.
  const known =
    which === 'runtime' || which === 'quality'
      ? Object.keys(RUNTIME_WEIGHTS)
      : which === 'kernels'
        ? Object.keys(KERNEL_VARIANTS)
        : ['fp32', 'int8', 'int4'];
  // Default: the served three (kernels: every variant); an empty --quant: none.
  const weights = (values.quant ?? (which === 'kernels' ? known.join(',') : 'fp32,int8,int4'))
    .split(',')
    .filter((w) => w !== '');
  for (const w of weights)
    if (!known.includes(w)) throw new Error(`--quant takes ${known.join(', ')}; not ${w}`);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  if (which === 'runtime' && values['kv-path']) {
    const rows = await benchKvPath({
      models: values.models!.split(','),
      steps: values.steps ? Number(values.steps) : undefined,
      log,
    });
    console.log(formatKvPath(rows));
    if (values.json) console.log(JSON.stringify({ bench: 'runtime-kv-path', rows }));
    return;
  }
  if (which === 'runtime') {
    const rows = values['quant-only']
      ? []
      : await benchRuntime({
          models: values.models!.split(','),
          steps: values.steps ? Number(values.steps) : undefined,
          log,
        });
    if (rows.length) console.log(formatRuntime(rows));
    const quantization = weights.length
      ? await benchQuantRuntime({ models: values.models!.split(','), weights, log })
      : [];
    if (quantization.length) console.log(`\n${formatQuantRuntime(quantization)}`);
    if (values.json) console.log(JSON.stringify({ bench: 'runtime', rows, quantization }));
    return;
  }
  if (which === 'kernels') {
    const rows = await benchKernels({
      layers: values.layers ? Number(values.layers) : undefined,
      variants: weights,
      log,
    });
    console.log(formatKernels(rows));
    if (values.json) console.log(JSON.stringify({ bench: 'kernels', rows }));
    return;
  }
  if (which === 'quality') {
    const dir = values.model ?? defaultCheckpointDir();
    const testset =
      values.testset ??
      join(import.meta.dirname, '..', '..', 'test', 'fixtures', `${basename(dir)}-testset.jsonl`);
    const thinking = values.thinking!.split(',') as ('hard' | 'soft' | 'fuzzy' | 'latent')[];
    const rows = await benchQuality({ dir, testset, weights, thinking, log });
    console.log(formatQuality(rows));
    if (values.json) console.log(JSON.stringify({ bench: 'quality', model: dir, testset, rows }));
    return;
  }
  if (which === 'attention') {
    const rows = await benchAttention({ steps: values.steps ? Number(values.steps) : undefined, log });
    console.log(formatAttention(rows));
    if (values.json) console.log(JSON.stringify({ bench: 'attention', rows }));
    return;
  }
  if (which === 'engine') {
    const result = await benchEngine({ models: values.models!.split(','), log });
    console.log(formatEngine(result));
    const quantization = weights.length
      ? await benchQuantEngine({ models: values.models!.split(','), weights: weights as WeightsLabel[], log })
      : [];
    if (quantization.length) console.log(`\n${formatQuantEngine(quantization)}`);
    if (values.json) console.log(JSON.stringify({ bench: 'engine', ...result, quantization }));
    return;
  }
  if (which === 'memory') {
    const result = benchMemory({
      checkpoint: values.checkpoint,
      rounds: Number(values.rounds),
      concurrency: Number(values.concurrency),
      log,
    });
    console.log(formatMemory(result));
    if (values.json) console.log(JSON.stringify({ bench: 'memory', ...result }));
    return;
  }
  if (which === 'convert') {
    if (values.dtype !== 'fp32' && values.dtype !== 'fp16') throw new Error('--dtype must be fp32 or fp16');
    // --dtype names the float conversion, --quant lists the conversions (default: the float one alone).
    const kinds =
      values.quant === undefined ? [values.dtype] : weights.map((w) => (w === 'fp32' ? values.dtype! : w));
    const rows = await benchConvert({
      shape: values.shape!,
      weights: kinds as ConvertWeights[],
      keep: values.keep,
      log,
    });
    console.log(formatConvert(rows));
    if (values.json) console.log(JSON.stringify({ bench: 'convert', rows }));
    return;
  }
  if (which === 'decoding') {
    const rows = await benchDecoding({ models: values.models!.split(','), log });
    console.log(formatDecoding(rows));
    if (values.json) console.log(JSON.stringify({ bench: 'decoding', rows }));
    return;
  }
  if (which === 'structured') {
    const rows = await benchStructured({ log, vocabs: values.vocabs?.split(',') });
    console.log(formatStructured(rows));
    if (values.json) console.log(JSON.stringify({ bench: 'structured', rows }));
    return;
  }
  throw new Error(
    `unknown benchmark ${which ?? '(none)'}; expected: runtime, attention, decoding, engine, quality, kernels, memory, convert, structured, serve`,
  );
}
