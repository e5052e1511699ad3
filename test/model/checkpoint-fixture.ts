import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BYTE_EOS_TOKEN_IDS,
  BYTE_VOCAB_SIZE,
  writeByteTokenizerFiles,
} from '../../src/model/byte-tokenizer.ts';
import type { Tensor } from '../../src/model/safetensors.ts';
import { writeSafetensors } from '../../src/model/safetensors.ts';

/**
 * Builds tiny but complete checkpoint folders in a temp dir for the loader and convert tests:
 * random float32 weights under Hugging Face names, reverie's byte tokenizer, config and
 * generation config. The manifest is left to the test (most write it with writeManifest).
 */

export const TINY_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: BYTE_VOCAB_SIZE,
  hidden_size: 8,
  intermediate_size: 16,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
  eos_token_id: [...BYTE_EOS_TOKEN_IDS],
};

/** Deterministic pseudo-random values, so a failing test reproduces. */
function randomTensor(shape: number[], seed: number): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let x = seed;
  for (let i = 0; i < data.length; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    data[i] = x / 2 ** 31 - 0.5;
  }
  return { shape, data };
}

/** The tiny model's weights with their Hugging Face parameter names. */
export function tinyWeights(): Map<string, Tensor> {
  const { hidden_size: h, intermediate_size: f, vocab_size: v } = TINY_CONFIG;
  const kv = (h / TINY_CONFIG.num_attention_heads) * TINY_CONFIG.num_key_value_heads;
  const shapes: [string, number[]][] = [
    ['model.embed_tokens.weight', [v, h]],
    ['model.layers.0.input_layernorm.weight', [h]],
    ['model.layers.0.self_attn.q_proj.weight', [h, h]],
    ['model.layers.0.self_attn.k_proj.weight', [kv, h]],
    ['model.layers.0.self_attn.v_proj.weight', [kv, h]],
    ['model.layers.0.self_attn.o_proj.weight', [h, h]],
    ['model.layers.0.post_attention_layernorm.weight', [h]],
    ['model.layers.0.mlp.gate_proj.weight', [f, h]],
    ['model.layers.0.mlp.up_proj.weight', [f, h]],
    ['model.layers.0.mlp.down_proj.weight', [h, f]],
    ['model.norm.weight', [h]],
  ];
  return new Map(shapes.map(([name, shape], i) => [name, randomTensor(shape, i + 1)]));
}

export async function writeJson(dir: string, name: string, value: unknown): Promise<void> {
  await writeFile(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A Hugging Face folder as users download it (no reverie.json).
 * @param options.sharded split the weights over two shards with an index file
 */
export async function writeHfFolder(dir: string, options: { sharded?: boolean } = {}): Promise<void> {
  await writeJson(dir, 'config.json', TINY_CONFIG);
  await writeJson(dir, 'generation_config.json', {
    bos_token_id: null,
    eos_token_id: [...BYTE_EOS_TOKEN_IDS],
  });
  await writeByteTokenizerFiles(dir);
  const weights = tinyWeights();
  if (!options.sharded) {
    writeSafetensors(join(dir, 'model.safetensors'), weights);
    return;
  }
  const names = [...weights.keys()];
  const shards = [names.slice(0, 5), names.slice(5)];
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    writeSafetensors(join(dir, file), new Map(shard.map((n) => [n, weights.get(n)!])));
    for (const n of shard) weightMap[n] = file;
  });
  await writeJson(dir, 'model.safetensors.index.json', { metadata: {}, weight_map: weightMap });
}

export async function sha256Of(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** Rewrites a file and fixes its sha256 in reverie.json, so only the content itself is wrong. */
export async function replaceFile(dir: string, name: string, content: string | Buffer): Promise<void> {
  await writeFile(join(dir, name), content);
  await patchManifest(dir, async (m) => {
    (m.files as Record<string, string>)[name] = await sha256Of(join(dir, name));
  });
}

/** Edits reverie.json in place. */
export async function patchManifest(
  dir: string,
  edit: (manifest: Record<string, unknown>) => void | Promise<void>,
): Promise<void> {
  const manifest = JSON.parse(await readFile(join(dir, 'reverie.json'), 'utf8'));
  await edit(manifest);
  await writeJson(dir, 'reverie.json', manifest);
}

/** A fresh temp dir and its cleanup, for `before`/`after` or try/finally. */
export async function tempDir(
  prefix = 'reverie-loader-',
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
