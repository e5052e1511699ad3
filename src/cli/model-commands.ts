import { parseArgs } from 'node:util';
import { loadCheckpoint, weightSha256s } from '../model/checkpoint.ts';
import { ensureGraph } from '../model/graph-cache.ts';
import { SUPPORTED_ARCHITECTURES } from '../model/hf-config.ts';
import { type ManifestQuantization, quantizationSchema } from '../model/manifest.ts';
import { writeManifest } from '../model/manifest-writer.ts';
import { quantSpec, quantTag } from '../model/quantization.ts';
import {
  QWEN05B_SHAPE,
  QWEN15B_SHAPE,
  type TestModelOptions,
  writeTestCheckpoint,
} from '../model/test-model.ts';
import { convertSummary } from './convert-summary.ts';

const log = (s: string) => process.stderr.write(`${s}\n`);

const CONVERT_USAGE =
  'usage: reverie convert <hf-folder> [--out DIR] [--dtype fp32|fp16] [--force] [--name NAME] [--latent] ' +
  '[--thinking START,END | --no-thinking] ' +
  '[--quant none|int8|int4 [--block-size N] [--symmetric] [--head int8|int4|none] [--embedding int8|int4|none]]';

/**
 * The manifest's `quantization` from convert's flags: undefined (keep what the manifest says)
 * when `--quant` is not given, null for `--quant none`.
 */
export function quantizationFromFlags(values: {
  quant?: string;
  'block-size'?: string;
  symmetric?: boolean;
  head?: string;
  embedding?: string;
}): ManifestQuantization | null | undefined {
  const options = ['block-size', 'symmetric', 'head', 'embedding'] as const;
  const given = options.filter((o) => values[o] !== undefined && values[o] !== false);
  if (values.quant === undefined || values.quant === 'none') {
    if (given.length > 0) throw new Error(`--${given[0]} needs --quant int8 or int4`);
    return values.quant === 'none' ? null : undefined;
  }
  if (values.quant !== 'int8' && values.quant !== 'int4')
    throw new Error(`--quant must be none, int8 or int4, not ${values.quant}`);
  const blockSize = values['block-size'] === undefined ? undefined : Number(values['block-size']);
  const parsed = quantizationSchema.safeParse({
    weights: values.quant,
    ...(blockSize !== undefined && { block_size: blockSize }),
    ...(values.symmetric && { zero_points: false }),
    ...(values.head !== undefined && { lm_head: values.head }),
    ...(values.embedding !== undefined && { embedding: values.embedding }),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag = { block_size: 'block-size', lm_head: 'head', embedding: 'embedding' }[String(issue.path[0])];
    throw new Error(`--${flag ?? issue.path.join('.')}: ${issue.message}`);
  }
  // int8 has one scale per output channel: blocks and their zero points are int4's.
  const int4 = [parsed.data.weights, parsed.data.lm_head, parsed.data.embedding].includes('int4');
  for (const o of ['block-size', 'symmetric'] as const)
    if (given.includes(o) && !int4)
      throw new Error(`--${o} is for int4 weights (int8 has one scale per output channel)`);
  return parsed.data;
}

/** The `--thinking` / `--no-thinking` override: undefined to detect the markers from the tokenizer. */
function thinkingOption(values: { thinking?: string; 'no-thinking'?: boolean }) {
  if (values['no-thinking']) {
    if (values.thinking) throw new Error('--thinking and --no-thinking exclude each other');
    return null;
  }
  if (values.thinking === undefined) return undefined;
  const [start, end, ...rest] = values.thinking.split(',');
  if (!start || !end || rest.length)
    throw new Error(`--thinking takes START,END (e.g. "<think>,</think>"), not ${values.thinking}`);
  return { start, end };
}

/**
 * `reverie convert <hf-folder> [--out DIR] [--dtype fp32|fp16] [--quant …] ...`: turns a plain
 * Hugging Face folder into a reverie checkpoint (manifest + ONNX graph), reading the weights tensor
 * by tensor, and prints what it found. `--quant` records the weights to serve in the manifest and
 * builds that graph (docs/quantization.md).
 */
export async function convertCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      dtype: { type: 'string', default: 'fp32' },
      force: { type: 'boolean', default: false },
      name: { type: 'string' },
      latent: { type: 'boolean', default: false },
      quant: { type: 'string' },
      'block-size': { type: 'string' },
      symmetric: { type: 'boolean' },
      head: { type: 'string' },
      embedding: { type: 'string' },
      thinking: { type: 'string' },
      'no-thinking': { type: 'boolean', default: false },
    },
  });
  const src = positionals[0];
  if (!src) throw new Error(CONVERT_USAGE);
  if (values.dtype !== 'fp32' && values.dtype !== 'fp16')
    throw new Error(`--dtype must be fp32 or fp16, not ${values.dtype}`);
  const quantization = quantizationFromFlags(values);
  if (quantization && values.dtype !== 'fp32')
    throw new Error('--quant builds graphs that compute in fp32: drop --dtype fp16');
  const dtype = values.dtype;
  const out = values.out ?? src;
  const started = performance.now();
  log(`reverie convert ${src}${out === src ? '' : ` → ${out}`} (${SUPPORTED_ARCHITECTURES.join(', ')})`);
  const manifest = await writeManifest(src, out, {
    name: values.name,
    latent: values.latent,
    thinking: thinkingOption(values),
    dtype,
    quantization,
  });
  const checkpoint = await loadCheckpoint(out);
  for (const line of convertSummary(checkpoint)) log(`  ${line}`);
  log(`  manifest      ${out}/reverie.json (name ${manifest.name})`);
  const graph = await ensureGraph(checkpoint.dir, checkpoint.config, checkpoint.weightFiles, {
    dtype,
    quantization: quantSpec(manifest.quantization),
    force: values.force,
    knownSha256: weightSha256s(checkpoint),
    onProgress: (m) => log(`  graph         ${m}`),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const weights = graph.quantization ? quantTag(graph.quantization) : dtype;
  log(`${graph.rebuilt ? 'wrote' : 'up to date:'} ${graph.modelPath} (${weights}) in ${seconds} s`);
  log(
    `serve it: MODELS_DIR=${out.replace(/\/[^/]+\/?$/, '') || '.'} reverie serve   (model id ${manifest.name})`,
  );
}

const MAKE_TEST_MODEL_USAGE =
  'usage: reverie make-test-model --out DIR [--arch llama|mistral|qwen2|qwen3] [--shape tiny|qwen2.5-0.5b|qwen2.5-1.5b] [--seed N]';

/**
 * `reverie make-test-model --out DIR [--arch ...] [--shape ...] [--seed N]`: a random checkpoint
 * with the byte tokenizer: tiny for tests, or a real model's shape (Qwen2.5-0.5B, 1.5B) for
 * benchmarks and the GPU check (scripts/gpu-check.sh), where only the shape matters.
 */
export async function makeTestModelCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      arch: { type: 'string' },
      shape: { type: 'string', default: 'tiny' },
      seed: { type: 'string', default: '1' },
    },
  });
  const archs = {
    llama: 'LlamaForCausalLM',
    mistral: 'MistralForCausalLM',
    qwen2: 'Qwen2ForCausalLM',
    qwen3: 'Qwen3ForCausalLM',
  } as const;
  const shapes: Record<string, TestModelOptions> = {
    tiny: {},
    'qwen2.5-0.5b': QWEN05B_SHAPE,
    'qwen2.5-1.5b': QWEN15B_SHAPE,
  };
  const shape = shapes[values.shape!];
  const architecture =
    archs[(values.arch ?? (values.shape === 'tiny' ? 'llama' : 'qwen2')) as keyof typeof archs];
  if (!values.out || !architecture || !shape) throw new Error(MAKE_TEST_MODEL_USAGE);
  await writeTestCheckpoint(values.out, { ...shape, architecture, seed: Number(values.seed) });
  log(`wrote test checkpoint ${values.out} (${values.shape}, ${architecture})`);
}
