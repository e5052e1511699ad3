import { parseArgs } from 'node:util';
import { benchAttention, formatAttention } from '../bench/attention.ts';
import { benchConvert, formatConvert } from '../bench/convert.ts';
import { benchDecoding, formatDecoding } from '../bench/decoding.ts';
import { benchEngine, formatEngine } from '../bench/engine.ts';
import { benchMemory, formatMemory } from '../bench/memory.ts';
import { benchRuntime, formatRuntime } from '../bench/runtime.ts';
import { benchStructured, formatStructured } from '../bench/structured.ts';
import { benchServeCommand } from './bench-serve.ts';

/**
 * `reverie bench runtime|attention|decoding|engine [--models tiny,qwen2.5-0.5b-shape] [--steps N] [--json]`,
 * `reverie bench memory [--checkpoint DIR] [--rounds N] [--concurrency C] [--json]`,
 * `reverie bench convert [--shape qwen2.5-1.5b|qwen3-0.6b] [--dtype fp32|fp16] [--keep] [--json]`,
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
      checkpoint: { type: 'string' },
      rounds: { type: 'string', default: '20' },
      concurrency: { type: 'string', default: '64' },
      shape: { type: 'string', default: 'qwen2.5-1.5b' },
      dtype: { type: 'string', default: 'fp32' },
      keep: { type: 'boolean', default: false },
      vocabs: { type: 'string' },
    },
  });
  const log = (s: string) => process.stderr.write(`${s}\n`);
  if (which === 'runtime') {
    const rows = await benchRuntime({
      models: values.models!.split(','),
      steps: values.steps ? Number(values.steps) : undefined,
      log,
    });
    console.log(formatRuntime(rows));
    if (values.json) console.log(JSON.stringify({ bench: 'runtime', rows }));
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
    if (values.json) console.log(JSON.stringify({ bench: 'engine', ...result }));
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
    const result = await benchConvert({ shape: values.shape!, dtype: values.dtype, keep: values.keep, log });
    console.log(formatConvert(result));
    if (values.json) console.log(JSON.stringify({ bench: 'convert', ...result }));
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
    `unknown benchmark ${which ?? '(none)'}; expected: runtime, attention, decoding, engine, memory, convert, structured, serve`,
  );
}
