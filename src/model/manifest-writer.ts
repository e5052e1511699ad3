import { copyFile, mkdir, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomicAsync } from './atomic-write.ts';
import type { GenerationConfigJson, ResolveOptions, TokenizerConfig, TokenizerJson } from './checkpoint.ts';
import {
  CONFIG_FILE,
  GENERATION_CONFIG_FILE,
  generationConfigSchema,
  parseConfigFile,
  parseFile,
  parseManifestJson,
  REQUIRED_FILES,
  readJsonFile,
  readParsedFile,
  resolveCheckpointDir,
  resolveInside,
  sha256File,
  shardNames,
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
  tokenizerConfigSchema,
  tokenizerEosId,
  tokenizerJsonSchema,
  WEIGHTS_FILE,
  WEIGHTS_INDEX_FILE,
  weightIndexSchema,
} from './checkpoint.ts';
import { CheckpointError } from './checkpoint-error.ts';
import type { DecodingMode, Manifest, ManifestQuantization, SoftThinkingDefaults } from './manifest.ts';
import { MANIFEST_FILE, manifestSchema } from './manifest.ts';

/**
 * `reverie convert`'s manifest step: turns a plain Hugging Face folder (as downloaded: no
 * reverie.json, maybe sharded weights) into a checkpoint by writing reverie.json beside the files,
 * or into another folder together with copies of them. Re-running it on a checkpoint refreshes the
 * sha256s and keeps everything a person wrote into the manifest.
 */

/** Think-marker pairs models use, most common first; the first pair the tokenizer has wins. */
export const THINK_MARKER_PAIRS: readonly (readonly [string, string])[] = [
  ['<think>', '</think>'],
  ['<thinking>', '</thinking>'],
  ['<reasoning>', '</reasoning>'],
  ['<|begin_of_thought|>', '<|end_of_thought|>'],
  ['◁think▷', '◁/think▷'],
];

/** Files copied and hashed when present, besides the required ones and the weights. */
export const OPTIONAL_FILES = ['special_tokens_map.json', 'ngram.bin'];
const NGRAM_FILE = 'ngram.bin';

export interface WriteManifestOptions {
  /** Checkpoint name; default: the output folder's name, sanitised. */
  name?: string;
  description?: string;
  /** List `latent` among the modes: only for models trained to read their own hidden states. */
  latent?: boolean;
  /** Think markers to use instead of detecting them; null for a model that does not think. */
  thinking?: { start: string; end: string } | null;
  /**
   * Soft-thinking defaults written for a model that thinks; default: PRETRAINED_SOFT_THINKING
   * (a converted Hugging Face model was not trained on soft inputs); null: none, the
   * whole-vocabulary mixture (reverie's own soft-trained checkpoints).
   */
  softThinking?: SoftThinkingDefaults | null;
  /** Weight type of the graph `convert` builds (recorded so `serve` opens the same one). */
  dtype?: 'fp32' | 'fp16';
  /** Weights to serve (null: float); default: what an earlier manifest said, else float. */
  quantization?: ManifestQuantization | null;
}

/**
 * Soft thinking on a pretrained (not soft-trained) checkpoint, from the Soft Thinking paper's
 * SGLang runs (arXiv 2505.15778; soft-thinking.md): the concept token is the top `max_topk` 10 of
 * the distribution at τ 0.6 after top-p 0.95 and min-p 0.001, and Cold Stop ends thinking after
 * 256 consecutive steps of entropy below 0.01. Plain soft thinking without that truncation feeds
 * thousands of near-zero embeddings a pretrained model never saw.
 */
export const PRETRAINED_SOFT_THINKING: SoftThinkingDefaults = {
  temperature: 0.6,
  top_k: 10,
  top_p: 0.95,
  min_p: 0.001,
  cold_stop: { entropy_below: 0.01, patience: 256 },
};

/** Letters, digits, `.`, `_` and `-` only (the manifest's name rule). */
export function sanitiseName(folderName: string): string {
  const name = folderName.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '');
  return name || 'model';
}

/** Finds the first known think-marker pair among the tokenizer's added tokens. */
export function detectThinkMarkers(
  tokenizer: TokenizerJson,
  tokenizerConfig: TokenizerConfig,
): { start: string; end: string } | null {
  const tokens = new Set(tokenizer.added_tokens.map((t) => t.content));
  const decoder = tokenizerConfig.added_tokens_decoder;
  if (decoder && typeof decoder === 'object') {
    for (const entry of Object.values(decoder)) {
      const content = (entry as { content?: unknown } | null)?.content;
      if (typeof content === 'string') tokens.add(content);
    }
  }
  const pair = THINK_MARKER_PAIRS.find(([start, end]) => tokens.has(start) && tokens.has(end));
  return pair ? { start: pair[0], end: pair[1] } : null;
}

/** Modes a converted model supports: thinking modes need think markers; latent must be asked for. */
export function defaultModes(thinks: boolean, latent: boolean): DecodingMode[] {
  const modes: DecodingMode[] = thinks
    ? ['discrete', 'hard', 'soft', 'fuzzy', 'superposed']
    : ['discrete', 'superposed'];
  return withLatent(modes, latent);
}

/** `modes` with `latent` added (before `superposed`, the README's order) or removed. */
function withLatent(modes: readonly DecodingMode[], latent: boolean): DecodingMode[] {
  const rest = modes.filter((m) => m !== 'latent');
  if (!latent) return rest;
  const at = rest.includes('superposed') ? rest.indexOf('superposed') : rest.length;
  return [...rest.slice(0, at), 'latent', ...rest.slice(at)];
}

/**
 * Default decoding from generation_config.json, with Hugging Face's meaning (no do_sample is
 * greedy) and the fields vLLM takes from it (temperature, top_p, top_k, min_p, repetition_penalty).
 */
function defaultsFrom(
  generation: GenerationConfigJson | null,
  thinks: boolean,
  softThinking: SoftThinkingDefaults | null,
): Manifest['defaults'] {
  const sample = generation?.do_sample === true;
  const minP = (generation as { min_p?: unknown } | null)?.min_p;
  return manifestSchema.shape.defaults.parse({
    temperature: sample ? (generation?.temperature ?? 1) : 0,
    top_p: sample ? (generation?.top_p ?? 1) : 1,
    ...(sample && generation?.top_k && { top_k: generation.top_k }),
    ...(sample && typeof minP === 'number' && minP > 0 && { min_p: minP }),
    ...(generation?.repetition_penalty !== undefined &&
      generation.repetition_penalty !== 1 && { repetition_penalty: generation.repetition_penalty }),
    max_tokens: generation?.max_new_tokens,
    thinking_mode: thinks ? 'hard' : 'off',
    ...(thinks && softThinking && { soft_thinking: softThinking }),
  });
}

/**
 * A generation_config.json for folders that lack one: the eos id(s) of config.json, else the
 * tokenizer's `eos_token` (what vLLM stops on in that case).
 */
function synthesiseGeneration(
  config: unknown,
  tokenizer: TokenizerJson,
  tokenizerConfig: TokenizerConfig,
  root: string,
): GenerationConfigJson {
  const c = config as { eos_token_id?: unknown; bos_token_id?: unknown };
  const eos = c.eos_token_id ?? tokenizerEosId(tokenizer, tokenizerConfig);
  if (eos === undefined || eos === null) {
    const problem = `not found, and neither ${CONFIG_FILE} (eos_token_id) nor ${TOKENIZER_CONFIG_FILE} (eos_token) names an end-of-sequence token`;
    throw new CheckpointError('missing_file', GENERATION_CONFIG_FILE, problem, root);
  }
  const raw = { bos_token_id: c.bos_token_id ?? undefined, eos_token_id: eos };
  return parseFile(generationConfigSchema, raw, CONFIG_FILE, root);
}

/** Whether the file is there; other problems (an escaping name, a directory) are still thrown. */
async function exists(root: string, name: string, options: ResolveOptions = {}): Promise<boolean> {
  try {
    await resolveInside(root, name, options);
    return true;
  } catch (err) {
    if (err instanceof CheckpointError && err.code === 'missing_file') return false;
    throw err;
  }
}

/** The manifest already in the output (or source) folder, to keep what people wrote in it. */
async function existingManifest(outRoot: string, srcRoot: string): Promise<Manifest | null> {
  for (const root of [outRoot, srcRoot]) {
    if (await exists(root, MANIFEST_FILE)) {
      return parseManifestJson(await readJsonFile(root, MANIFEST_FILE), root);
    }
  }
  return null;
}

/**
 * The files an earlier manifest lists beyond what conversion finds itself (an n-gram store, ...).
 * Weights are left out: they are re-read from the folder, which may have been resharded since.
 */
function keptFiles(previous: Manifest | null): string[] {
  const isWeights = (name: string) => name === WEIGHTS_INDEX_FILE || name.endsWith('.safetensors');
  return Object.keys(previous?.files ?? {}).filter((name) => !isWeights(name));
}

/** What conversion reads from the source folder. */
interface SourceFiles {
  architecture: Manifest['architecture'];
  tokenizer: TokenizerJson;
  tokenizerConfig: TokenizerConfig;
  generation: GenerationConfigJson;
  /** False when generation_config.json was missing and `generation` comes from config.json. */
  generationFound: boolean;
  /** The weights: the single file, or the index and its shards. */
  weights: string[];
}

async function readSource(srcRoot: string, read: ResolveOptions): Promise<SourceFiles> {
  const rawConfig = await readJsonFile(srcRoot, CONFIG_FILE, read);
  const { architecture } = parseConfigFile(rawConfig, srcRoot);
  const tokenizer = await readParsedFile(tokenizerJsonSchema, srcRoot, TOKENIZER_FILE, read);
  const tokenizerConfig = await readParsedFile(tokenizerConfigSchema, srcRoot, TOKENIZER_CONFIG_FILE, read);
  const generationFound = await exists(srcRoot, GENERATION_CONFIG_FILE, read);
  const generation = generationFound
    ? await readParsedFile(generationConfigSchema, srcRoot, GENERATION_CONFIG_FILE, read)
    : synthesiseGeneration(rawConfig, tokenizer, tokenizerConfig, srcRoot);
  let weights = [WEIGHTS_FILE];
  if (await exists(srcRoot, WEIGHTS_INDEX_FILE, read)) {
    // Escaping shard names are refused later, when the files are resolved.
    const index = await readParsedFile(weightIndexSchema, srcRoot, WEIGHTS_INDEX_FILE, read);
    weights = [WEIGHTS_INDEX_FILE, ...shardNames(index)];
  }
  return { architecture, tokenizer, tokenizerConfig, generation, generationFound, weights };
}

/** The fields conversion fills in for a folder that has no manifest yet. */
function freshManifest(
  src: SourceFiles,
  thinking: Manifest['thinking'],
  softThinking: SoftThinkingDefaults | null,
  names: ReadonlySet<string>,
  outRoot: string,
  srcRoot: string,
) {
  return {
    format: 'reverie-checkpoint/1',
    name: sanitiseName(basename(outRoot)),
    description: `${src.architecture} converted from ${basename(srcRoot)}`,
    thinking,
    defaults: defaultsFrom(src.generation, thinking !== null, softThinking),
    modes: defaultModes(thinking !== null, false),
    training: null,
    evaluation: [],
    ngram: names.has(NGRAM_FILE) ? NGRAM_FILE : null,
  };
}

/**
 * Writes reverie.json for the Hugging Face folder `srcDir` into `outDir` (default: `srcDir`),
 * copying the checkpoint files there first when it is another folder. The manifest is written
 * last and atomically, so an interrupted convert leaves no folder that looks loadable.
 *
 * @example
 * await writeManifest('downloads/Qwen2.5-0.5B-Instruct', 'models/qwen2.5-0.5b');
 * @returns the manifest written
 * @throws CheckpointError naming the file (missing_file, bad_json, invalid, unsupported_architecture, ...)
 */
export async function writeManifest(
  srcDir: string,
  outDir: string = srcDir,
  options: WriteManifestOptions = {},
): Promise<Manifest> {
  const srcRoot = await resolveCheckpointDir(srcDir);
  await mkdir(outDir, { recursive: true });
  const outRoot = await realpath(outDir);
  const copying = outRoot !== srcRoot;
  // The copies are real files, so a source may link out of its folder (a Hugging Face cache does).
  const read: ResolveOptions = { followSymlinksOut: copying };
  const src = await readSource(srcRoot, read);
  const previous = await existingManifest(outRoot, srcRoot);

  const names = new Set([...REQUIRED_FILES, ...src.weights, ...keptFiles(previous)]);
  for (const name of OPTIONAL_FILES) if (await exists(srcRoot, name, read)) names.add(name);
  if (!src.generationFound) {
    names.delete(GENERATION_CONFIG_FILE);
    await writeFileAtomicAsync(
      join(outRoot, GENERATION_CONFIG_FILE),
      `${JSON.stringify(src.generation, null, 2)}\n`,
    );
  }
  for (const name of copying ? names : []) {
    // A file an earlier manifest of the output folder lists may live only there (added by hand).
    if (previous && !(await exists(srcRoot, name, read)) && (await exists(outRoot, name))) continue;
    const source = await resolveInside(srcRoot, name, read);
    await mkdir(dirname(join(outRoot, name)), { recursive: true });
    await copyFile(source, join(outRoot, name));
  }
  names.add(GENERATION_CONFIG_FILE);

  // Hash what the output folder holds: that is what the loader will verify.
  const files: Record<string, string> = {};
  for (const name of [...names].sort()) files[name] = await sha256File(await resolveInside(outRoot, name));

  const thinking =
    options.thinking !== undefined
      ? options.thinking
      : detectThinkMarkers(src.tokenizer, src.tokenizerConfig);
  const softThinking = options.softThinking === undefined ? PRETRAINED_SOFT_THINKING : options.softThinking;
  const fresh = freshManifest(src, thinking, softThinking, names, outRoot, srcRoot);
  const explicit = {
    ...(options.name !== undefined && { name: options.name }),
    ...(options.description !== undefined && { description: options.description }),
    ...(options.thinking !== undefined && { thinking: options.thinking }),
    ...(options.quantization !== undefined && { quantization: options.quantization }),
    ...(options.dtype !== undefined && { dtype: options.dtype === 'fp32' ? undefined : options.dtype }),
    ...(options.latent !== undefined && {
      modes: withLatent(previous?.modes ?? fresh.modes, options.latent),
    }),
  };
  // An earlier manifest's `ngram: null` only meant "no store then": a store found now is listed.
  const ngram = previous?.ngram ?? fresh.ngram;
  const merged = { ...fresh, ...previous, ...explicit, ngram, architecture: src.architecture, files };
  const manifest = parseFile(manifestSchema, merged, MANIFEST_FILE, outRoot);
  await writeFileAtomicAsync(join(outRoot, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
