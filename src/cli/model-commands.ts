import { parseArgs } from 'node:util';
import { loadCheckpoint } from '../model/checkpoint.ts';
import { ensureGraph } from '../model/graph-cache.ts';
import { writeManifest } from '../model/manifest-writer.ts';
import { writeTestCheckpoint } from '../model/test-model.ts';

const log = (s: string) => process.stderr.write(`${s}\n`);

/**
 * `reverie convert <checkpoint-dir> [--out DIR] [--dtype fp32|fp16] [--force]`: turns a plain
 * Hugging Face folder into a reverie checkpoint (manifest + ONNX graph).
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
    },
  });
  const src = positionals[0];
  if (!src)
    throw new Error('usage: reverie convert <checkpoint-dir> [--out DIR] [--dtype fp32|fp16] [--force]');
  if (values.dtype !== 'fp32' && values.dtype !== 'fp16')
    throw new Error(`--dtype must be fp32 or fp16, not ${values.dtype}`);
  const out = values.out ?? src;
  const started = performance.now();
  const manifest = await writeManifest(src, out, { name: values.name, latent: values.latent });
  log(
    `manifest: ${out}/reverie.json (${manifest.architecture}, thinking ${manifest.thinking ? 'yes' : 'no'})`,
  );
  const checkpoint = await loadCheckpoint(out);
  const graph = await ensureGraph(checkpoint.dir, checkpoint.config, checkpoint.weightFiles, {
    dtype: values.dtype,
    force: values.force,
    onProgress: (m) => log(`  ${m}`),
  });
  log(
    `${graph.rebuilt ? 'wrote' : 'up to date:'} ${graph.modelPath} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

/** `reverie make-test-model --out DIR [--arch llama|qwen2] [--seed N]`: a tiny random checkpoint for tests. */
export async function makeTestModelCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      arch: { type: 'string', default: 'llama' },
      seed: { type: 'string', default: '1' },
    },
  });
  if (!values.out)
    throw new Error('usage: reverie make-test-model --out DIR [--arch llama|qwen2] [--seed N]');
  const architecture = values.arch === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM';
  await writeTestCheckpoint(values.out, { architecture, seed: Number(values.seed) });
  log(`wrote test checkpoint ${values.out}`);
}
