import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeByteTokenizerFiles } from './byte-tokenizer.ts';
import type { Architecture } from './hf-config.ts';
import { writeManifest } from './manifest-writer.ts';
import { type SafetensorsDType, type Tensor, writeSafetensors } from './safetensors.ts';

/**
 * Writes small random-weight checkpoints in Hugging Face layout, so tests and benchmarks need
 * no download. Weights come from a seeded generator: the same options give the same bytes.
 */

export interface TestModelOptions {
  architecture?: Architecture;
  vocabSize?: number;
  hiddenSize?: number;
  intermediateSize?: number;
  numLayers?: number;
  numHeads?: number;
  numKvHeads?: number;
  headDim?: number;
  maxPositions?: number;
  tieEmbeddings?: boolean;
  /** true: Llama 3 scaling over an original context of 64; an object: config.json's `rope_scaling` as written. */
  ropeScaling?: boolean | Record<string, unknown>;
  /** `attention_bias` (biases on q/k/v/o outside Qwen2, which always biases q/k/v). */
  attentionBias?: boolean;
  /** Llama's `mlp_bias` (biases on gate/up/down). */
  mlpBias?: boolean;
  /** config.json's `sliding_window` (null: none). */
  slidingWindow?: number | null;
  rmsNormEps?: number;
  ropeTheta?: number;
  seed?: number;
}

/** How the weights are stored: safetensors dtype and number of shards (1: `model.safetensors`). */
export interface WeightFileOptions {
  dtype?: SafetensorsDType;
  shards?: number;
}

/** The tiny default: 2 layers, hidden 64, 4 query heads sharing 2 KV heads, vocab 272 (261 used by the tokenizer). */
export const TINY: Required<Omit<TestModelOptions, 'seed'>> = {
  architecture: 'LlamaForCausalLM',
  vocabSize: 272,
  hiddenSize: 64,
  intermediateSize: 128,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 16,
  maxPositions: 1024,
  tieEmbeddings: true,
  ropeScaling: false,
  attentionBias: false,
  mlpBias: false,
  slidingWindow: null,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
};

/** Qwen2.5-0.5B's shape, for benchmarks (random weights, never committed). */
export const QWEN05B_SHAPE: Required<Omit<TestModelOptions, 'seed'>> = {
  architecture: 'Qwen2ForCausalLM',
  vocabSize: 151936,
  hiddenSize: 896,
  intermediateSize: 4864,
  numLayers: 24,
  numHeads: 14,
  numKvHeads: 2,
  headDim: 64,
  maxPositions: 4096,
  tieEmbeddings: true,
  ropeScaling: false,
  attentionBias: false,
  mlpBias: false,
  slidingWindow: null,
  rmsNormEps: 1e-6,
  ropeTheta: 1000000,
};

/** Qwen2.5-1.5B / DeepSeek-R1-Distill-Qwen-1.5B's shape (conversion measurements; never committed). */
export const QWEN15B_SHAPE: Required<Omit<TestModelOptions, 'seed'>> = {
  ...QWEN05B_SHAPE,
  hiddenSize: 1536,
  intermediateSize: 8960,
  numLayers: 28,
  numHeads: 12,
  numKvHeads: 2,
  headDim: 128,
  maxPositions: 131072,
  tieEmbeddings: false,
};

/** mulberry32: tiny seeded PRNG, enough for test weights. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random HF-named weights for the given shape. */
export function randomWeights(
  o: Required<Omit<TestModelOptions, 'seed'>>,
  seed: number,
): Map<string, Tensor> {
  const next = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
  const t = (shape: number[], std: number, mean = 0): Tensor => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = mean + std * normal();
    return { shape, data };
  };
  const D = o.hiddenSize;
  const qkvBias = o.architecture === 'Qwen2ForCausalLM' || o.attentionBias;
  const oBias = o.architecture !== 'Qwen2ForCausalLM' && o.attentionBias;
  const w = new Map<string, Tensor>();
  w.set('model.embed_tokens.weight', t([o.vocabSize, D], 1));
  if (!o.tieEmbeddings) w.set('lm_head.weight', t([o.vocabSize, D], 1 / Math.sqrt(D)));
  w.set('model.norm.weight', t([D], 0.1, 1));
  for (let l = 0; l < o.numLayers; l++) {
    const p = `model.layers.${l}`;
    w.set(`${p}.input_layernorm.weight`, t([D], 0.1, 1));
    w.set(`${p}.post_attention_layernorm.weight`, t([D], 0.1, 1));
    w.set(`${p}.self_attn.q_proj.weight`, t([o.numHeads * o.headDim, D], 1 / Math.sqrt(D)));
    w.set(`${p}.self_attn.k_proj.weight`, t([o.numKvHeads * o.headDim, D], 1 / Math.sqrt(D)));
    w.set(`${p}.self_attn.v_proj.weight`, t([o.numKvHeads * o.headDim, D], 1 / Math.sqrt(D)));
    if (qkvBias) {
      w.set(`${p}.self_attn.q_proj.bias`, t([o.numHeads * o.headDim], 0.1));
      w.set(`${p}.self_attn.k_proj.bias`, t([o.numKvHeads * o.headDim], 0.1));
      w.set(`${p}.self_attn.v_proj.bias`, t([o.numKvHeads * o.headDim], 0.1));
    }
    if (o.architecture === 'Qwen3ForCausalLM') {
      w.set(`${p}.self_attn.q_norm.weight`, t([o.headDim], 0.1, 1));
      w.set(`${p}.self_attn.k_norm.weight`, t([o.headDim], 0.1, 1));
    }
    w.set(
      `${p}.self_attn.o_proj.weight`,
      t([D, o.numHeads * o.headDim], 1 / Math.sqrt(o.numHeads * o.headDim)),
    );
    if (oBias) w.set(`${p}.self_attn.o_proj.bias`, t([D], 0.1));
    w.set(`${p}.mlp.gate_proj.weight`, t([o.intermediateSize, D], 1 / Math.sqrt(D)));
    w.set(`${p}.mlp.up_proj.weight`, t([o.intermediateSize, D], 1 / Math.sqrt(D)));
    w.set(`${p}.mlp.down_proj.weight`, t([D, o.intermediateSize], 1 / Math.sqrt(o.intermediateSize)));
    if (o.mlpBias) {
      w.set(`${p}.mlp.gate_proj.bias`, t([o.intermediateSize], 0.1));
      w.set(`${p}.mlp.up_proj.bias`, t([o.intermediateSize], 0.1));
      w.set(`${p}.mlp.down_proj.bias`, t([D], 0.1));
    }
  }
  return w;
}

/** The Hugging Face `config.json` for the shape. */
export function hfConfig(o: Required<Omit<TestModelOptions, 'seed'>>): Record<string, unknown> {
  const modelType = {
    LlamaForCausalLM: 'llama',
    MistralForCausalLM: 'mistral',
    Qwen2ForCausalLM: 'qwen2',
    Qwen3ForCausalLM: 'qwen3',
  }[o.architecture];
  const llama3 = {
    rope_type: 'llama3',
    factor: 8,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 64,
  };
  return {
    architectures: [o.architecture],
    model_type: modelType,
    vocab_size: o.vocabSize,
    hidden_size: o.hiddenSize,
    intermediate_size: o.intermediateSize,
    num_hidden_layers: o.numLayers,
    num_attention_heads: o.numHeads,
    num_key_value_heads: o.numKvHeads,
    head_dim: o.headDim,
    max_position_embeddings: o.maxPositions,
    rms_norm_eps: o.rmsNormEps,
    rope_theta: o.ropeTheta,
    rope_scaling: o.ropeScaling === true ? llama3 : o.ropeScaling || null,
    attention_bias: o.attentionBias,
    mlp_bias: o.mlpBias,
    sliding_window: o.slidingWindow,
    ...(modelType.startsWith('qwen') && { use_sliding_window: o.slidingWindow !== null }),
    tie_word_embeddings: o.tieEmbeddings,
    hidden_act: 'silu',
    torch_dtype: 'float32',
    bos_token_id: 256,
    eos_token_id: 258,
  };
}

/**
 * Writes the weights as `model.safetensors`, or as `shards` files named as Hugging Face names them
 * plus `model.safetensors.index.json` (tensors dealt out in name order).
 */
export function writeWeightFiles(
  dir: string,
  weights: Map<string, Tensor>,
  options: WeightFileOptions = {},
): void {
  const { dtype = 'F32', shards = 1 } = options;
  if (shards <= 1) {
    writeSafetensors(join(dir, 'model.safetensors'), weights, { format: 'pt' }, dtype);
    return;
  }
  const names = [...weights.keys()].sort();
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = names.filter((_, i) => i % shards === s);
    for (const name of part) weightMap[name] = file;
    writeSafetensors(
      join(dir, file),
      new Map(part.map((n) => [n, weights.get(n)!])),
      { format: 'pt' },
      dtype,
    );
  }
  const index = { metadata: {}, weight_map: weightMap };
  writeFileSync(join(dir, 'model.safetensors.index.json'), `${JSON.stringify(index, null, 2)}\n`);
}

/**
 * Writes config.json, the weights and generation_config.json of a random model into `dir`.
 * Tokenizer files and the manifest are added by the caller (see make-test-model in the CLI).
 */
export function writeRandomModel(
  dir: string,
  options: TestModelOptions &
    WeightFileOptions & {
      eosTokenIds?: number[] | null;
      /** Edits the random weights before they are written (tests that need a behaviour). */
      editWeights?: (weights: Map<string, Tensor>) => void;
    } = {},
): Required<Omit<TestModelOptions, 'seed'>> {
  const { dtype, shards, eosTokenIds = [258, 256], editWeights, ...rest } = options;
  const o = { ...TINY, ...rest };
  const { seed = 1, ...shape } = o;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(hfConfig(shape), null, 2)}\n`);
  if (eosTokenIds) {
    writeFileSync(
      join(dir, 'generation_config.json'),
      // max_new_tokens as a checkpoint's generation config may set it: the default length of a
      // request that names none (else what the prompt leaves of the model's 1024 positions).
      `${JSON.stringify({ eos_token_id: eosTokenIds, max_new_tokens: 256 }, null, 2)}\n`,
    );
  }
  const weights = randomWeights(shape, seed);
  editWeights?.(weights);
  writeWeightFiles(dir, weights, { dtype, shards });
  return shape;
}

/**
 * A complete tiny checkpoint (random weights, reverie's byte-level tokenizer, manifest): what
 * `reverie make-test-model` writes and what engine and API tests serve.
 */
export async function writeTestCheckpoint(
  dir: string,
  options: TestModelOptions & { name?: string; latent?: boolean } = {},
): Promise<void> {
  const { name, latent, ...shape } = options;
  writeRandomModel(dir, shape);
  await writeByteTokenizerFiles(dir);
  await writeManifest(dir, dir, {
    name,
    latent,
    // Like reverie's own checkpoints (same tokenizer layout): the paper's whole-vocabulary mixture.
    softThinking: null,
    description:
      'Tiny random-weight test model (2 layers, hidden 64): exercises every code path, answers nothing.',
  });
}
