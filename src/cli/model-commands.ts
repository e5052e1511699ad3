import { parseArgs } from 'node:util';
import { loadCheckpoint, weightSha256s } from '../model/checkpoint.ts';
import { ensureGraph } from '../model/graph-cache.ts';
import { SUPPORTED_ARCHITECTURES } from '../model/hf-config.ts';
import { writeManifest } from '../model/manifest-writer.ts';
import { writeTestCheckpoint } from '../model/test-model.ts';
import { convertSummary } from './convert-summary.ts';

const log = (s: string) => process.stderr.write(`${s}\n`);

const CONVERT_USAGE =
  'usage: reverie convert <hf-folder> [--out DIR] [--dtype fp32|fp16] [--force] [--name NAME] [--latent] [--thinking START,END | --no-thinking]';

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
 * `reverie convert <hf-folder> [--out DIR] [--dtype fp32|fp16] ...`: turns a plain Hugging Face
 * folder into a reverie checkpoint (manifest + ONNX graph), reading the weights tensor by tensor,
 * and prints what it found.
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
      thinking: { type: 'string' },
      'no-thinking': { type: 'boolean', default: false },
    },
  });
  const src = positionals[0];
  if (!src) throw new Error(CONVERT_USAGE);
  if (values.dtype !== 'fp32' && values.dtype !== 'fp16')
    throw new Error(`--dtype must be fp32 or fp16, not ${values.dtype}`);
  const dtype = values.dtype;
  const out = values.out ?? src;
  const started = performance.now();
  log(`reverie convert ${src}${out === src ? '' : ` → ${out}`} (${SUPPORTED_ARCHITECTURES.join(', ')})`);
  const manifest = await writeManifest(src, out, {
    name: values.name,
    latent: values.latent,
    thinking: thinkingOption(values),
    dtype,
  });
  const checkpoint = await loadCheckpoint(out);
  for (const line of convertSummary(checkpoint)) log(`  ${line}`);
  log(`  manifest      ${out}/reverie.json (name ${manifest.name})`);
  const graph = await ensureGraph(checkpoint.dir, checkpoint.config, checkpoint.weightFiles, {
    dtype,
    force: values.force,
    knownSha256: weightSha256s(checkpoint),
    onProgress: (m) => log(`  graph         ${m}`),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  log(`${graph.rebuilt ? 'wrote' : 'up to date:'} ${graph.modelPath} (${dtype}) in ${seconds} s`);
  log(
    `serve it: MODELS_DIR=${out.replace(/\/[^/]+\/?$/, '') || '.'} reverie serve   (model id ${manifest.name})`,
  );
}

/** `reverie make-test-model --out DIR [--arch llama|mistral|qwen2|qwen3] [--seed N]`: a tiny random checkpoint for tests. */
export async function makeTestModelCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      arch: { type: 'string', default: 'llama' },
      seed: { type: 'string', default: '1' },
    },
  });
  const archs = {
    llama: 'LlamaForCausalLM',
    mistral: 'MistralForCausalLM',
    qwen2: 'Qwen2ForCausalLM',
    qwen3: 'Qwen3ForCausalLM',
  } as const;
  const architecture = archs[values.arch as keyof typeof archs];
  if (!values.out || !architecture)
    throw new Error('usage: reverie make-test-model --out DIR [--arch llama|mistral|qwen2|qwen3] [--seed N]');
  await writeTestCheckpoint(values.out, { architecture, seed: Number(values.seed) });
  log(`wrote test checkpoint ${values.out}`);
}
