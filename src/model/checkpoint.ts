import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { CheckpointError } from './checkpoint-error.ts';
import type { ModelConfig } from './hf-config.ts';
import { parseModelConfig, SUPPORTED_ARCHITECTURES, UnsupportedModelError } from './hf-config.ts';
import type { Manifest } from './manifest.ts';
import { MANIFEST_FILE, manifestSchema } from './manifest.ts';
import type { Tensor } from './safetensors.ts';
import { readAllWeights } from './weight-source.ts';

/**
 * Loads a checkpoint folder (models/README.md): verifies reverie.json, that every listed file stays
 * inside the folder and matches its sha256, and parses the Hugging Face files into one frozen
 * object. Pure reading: on failure it throws a CheckpointError naming the file and leaves nothing
 * open, so a server that fails to load a model has nothing to clean up.
 */

export const CONFIG_FILE = 'config.json';
export const GENERATION_CONFIG_FILE = 'generation_config.json';
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';
/** Files every checkpoint has besides the weights (one file, or an index and its shards). */
export const REQUIRED_FILES = [CONFIG_FILE, GENERATION_CONFIG_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE];

const tokenId = z.number().int().nonnegative();
/** Sampling fields are often written as null by HF tooling; null means "not set". */
const unset = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined);

/** generation_config.json: the eos id(s) are required, sampling defaults optional; other keys pass. */
export const generationConfigSchema = z.looseObject({
  eos_token_id: z.union([tokenId, z.array(tokenId).min(1)]),
  bos_token_id: unset(tokenId),
  do_sample: unset(z.boolean()),
  temperature: unset(z.number().min(0)),
  top_p: unset(z.number().gt(0).max(1)),
  top_k: unset(z.number().int().min(0)),
  max_new_tokens: unset(z.number().int().positive()),
  repetition_penalty: unset(z.number().positive()),
});
export type GenerationConfigJson = z.infer<typeof generationConfigSchema>;

const addedTokenSchema = z.looseObject({ id: tokenId, content: z.string(), special: z.boolean() });
/** Just enough of tokenizer.json to trust the tokenizer library with it. */
export const tokenizerJsonSchema = z.looseObject({
  model: z.looseObject({ type: z.string().optional() }),
  added_tokens: z.array(addedTokenSchema),
});
export type TokenizerJson = z.infer<typeof tokenizerJsonSchema>;

/** `bos_token` and friends: a string, or an AddedToken-like `{content, ...}` object. */
const tokenStringSchema = z.union([z.string(), z.looseObject({ content: z.string() })]).nullable();
/** tokenizer_config.json: the fields reverie reads (the chat template, a string or a named list). */
export const tokenizerConfigSchema = z.looseObject({
  chat_template: z
    .union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }))])
    .optional(),
  bos_token: tokenStringSchema.optional(),
  eos_token: tokenStringSchema.optional(),
});
export type TokenizerConfig = z.infer<typeof tokenizerConfigSchema>;

/** model.safetensors.index.json: which shard holds each tensor. */
export const weightIndexSchema = z.looseObject({ weight_map: z.record(z.string(), z.string()) });

/** Defaults from generation_config.json, normalised. */
export interface GenerationDefaults {
  /** Any of these ends a sequence: generation_config.json's eos ids and the tokenizer's eos_token. */
  eosTokenIds: readonly number[];
  bosTokenId: number | null;
  doSample?: boolean;
  temperature?: number;
  topP?: number;
  topK?: number;
  maxNewTokens?: number;
  repetitionPenalty?: number;
}

/** A verified checkpoint. The tokenizer JSON is shared, not copied: treat it as read-only. */
export interface Checkpoint {
  /** Absolute, symlink-free path of the folder. */
  readonly dir: string;
  readonly manifest: Manifest;
  readonly config: ModelConfig;
  readonly generation: GenerationDefaults;
  readonly tokenizerJson: TokenizerJson;
  readonly tokenizerConfig: TokenizerConfig;
  /** Absolute paths of the safetensors files (one, or the shards in name order). */
  readonly weightFiles: readonly string[];
  /** Absolute path of the n-gram store, or null. */
  readonly ngramFile: string | null;
}

/** False for names that are absolute or climb out with `..` (checked before touching the disk). */
export function isInsideName(name: string): boolean {
  return name.length > 0 && !isAbsolute(name) && !name.includes('\\') && !name.split('/').includes('..');
}

/** Streams a file through sha256 (weights can be larger than we want in memory). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * The checkpoint folder's absolute, symlink-free path.
 * @throws CheckpointError not_a_directory
 */
export async function resolveCheckpointDir(dir: string): Promise<string> {
  try {
    const root = await realpath(dir);
    if ((await stat(root)).isDirectory()) return root;
  } catch {
    // reported below, with the same message as a plain file
  }
  throw new CheckpointError('not_a_directory', '.', 'checkpoint folder not found or not a directory', dir);
}

export interface ResolveOptions {
  /**
   * Accept a symlink that resolves outside the folder (the name itself must still stay inside).
   * Only for reading a source folder that is copied elsewhere: a Hugging Face cache snapshot
   * links every file into `../../blobs`. Never for a checkpoint being loaded.
   */
  followSymlinksOut?: boolean;
}

/**
 * Resolves `name` inside `root` (itself already resolved) and returns the symlink-free path.
 * @throws CheckpointError path_escape, missing_file or invalid (not a regular file)
 */
export async function resolveInside(
  root: string,
  name: string,
  options: ResolveOptions = {},
): Promise<string> {
  if (!isInsideName(name)) {
    throw new CheckpointError('path_escape', name, 'file name leaves the checkpoint folder', root);
  }
  let real: string;
  try {
    real = await realpath(join(root, name));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new CheckpointError('missing_file', name, 'not found', root);
    throw new CheckpointError('invalid', name, `cannot resolve (${code})`, root, { cause: err });
  }
  const rel = relative(root, real);
  const outside = rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
  if (outside && !options.followSymlinksOut) {
    throw new CheckpointError(
      'path_escape',
      name,
      `resolves outside the checkpoint folder, to ${real}`,
      root,
    );
  }
  if (!(await stat(real)).isFile()) throw new CheckpointError('invalid', name, 'not a regular file', root);
  return real;
}

/** Reads and parses a JSON file of the checkpoint. */
export async function readJsonFile(
  root: string,
  name: string,
  options: ResolveOptions = {},
): Promise<unknown> {
  const text = await readFile(await resolveInside(root, name, options), 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CheckpointError('bad_json', name, `not valid JSON (${(err as Error).message})`, root);
  }
}

/** zod parse whose failure names the file and the first offending field. */
export function parseFile<T extends z.ZodType>(
  schema: T,
  raw: unknown,
  name: string,
  root: string,
): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new CheckpointError('invalid', name, `${issue.path.join('.') || '(root)'}: ${issue.message}`, root);
}

/** Reads a JSON file of the checkpoint and parses it with `schema`. */
export async function readParsedFile<T extends z.ZodType>(
  schema: T,
  root: string,
  name: string,
  options: ResolveOptions = {},
): Promise<z.output<T>> {
  return parseFile(schema, await readJsonFile(root, name, options), name, root);
}

/** Refuses, with their specific codes, the manifest values the schema would only call invalid. */
function precheckManifest(raw: unknown, root: string): void {
  const m = raw as { files?: unknown; ngram?: unknown; architecture?: unknown } | null;
  const names = [...(m?.files && typeof m.files === 'object' ? Object.keys(m.files) : []), m?.ngram];
  for (const name of names) {
    if (typeof name === 'string' && !isInsideName(name)) {
      throw new CheckpointError(
        'path_escape',
        name,
        `${MANIFEST_FILE} lists a name outside the folder`,
        root,
      );
    }
  }
  const arch = m?.architecture;
  if (typeof arch === 'string' && !(SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch)) {
    throw new CheckpointError('unsupported_architecture', MANIFEST_FILE, `architecture ${arch}`, root);
  }
}

/**
 * Validates a parsed reverie.json.
 * @throws CheckpointError path_escape, unsupported_architecture or invalid
 */
export function parseManifestJson(raw: unknown, root: string): Manifest {
  precheckManifest(raw, root);
  return parseFile(manifestSchema, raw, MANIFEST_FILE, root);
}

/**
 * Parses config.json, reporting an architecture reverie cannot run with its own code.
 * @throws CheckpointError unsupported_architecture or invalid
 */
export function parseConfigFile(raw: unknown, root: string): ModelConfig {
  const archs = (raw as { architectures?: unknown } | null)?.architectures;
  const arch = Array.isArray(archs) ? archs[0] : undefined;
  if (typeof arch === 'string' && !(SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch)) {
    const supported = SUPPORTED_ARCHITECTURES.join(', ');
    throw new CheckpointError(
      'unsupported_architecture',
      CONFIG_FILE,
      `${arch} (supported: ${supported})`,
      root,
    );
  }
  try {
    return parseModelConfig(raw);
  } catch (err) {
    if (!(err instanceof UnsupportedModelError)) throw err;
    const problem = err.message.replace(/^config\.json: /, '');
    throw new CheckpointError('invalid', CONFIG_FILE, problem, root, { cause: err });
  }
}

/** The shard names of a weight index, in name order. */
export function shardNames(index: z.infer<typeof weightIndexSchema>): string[] {
  return [...new Set(Object.values(index.weight_map))].sort();
}

/** The error for a needed file that the manifest does not list: missing, or present but unlisted. */
async function notListed(name: string, root: string): Promise<CheckpointError> {
  await resolveInside(root, name); // throws missing_file when it is not on disk either
  return new CheckpointError('unlisted_file', name, `not listed in ${MANIFEST_FILE} files`, root);
}

/** A file the loader needs must be listed, so that its sha256 is checked. */
async function requireListed(manifest: Manifest, name: string, root: string): Promise<void> {
  if (!(name in manifest.files)) throw await notListed(name, root);
}

/** Which weights entry the checkpoint uses: the shard index when listed, else the single file. */
async function weightsEntry(manifest: Manifest, root: string): Promise<string> {
  for (const name of [WEIGHTS_INDEX_FILE, WEIGHTS_FILE]) if (name in manifest.files) return name;
  const indexOnDisk = await resolveInside(root, WEIGHTS_INDEX_FILE).then(
    () => true,
    () => false,
  );
  throw await notListed(indexOnDisk ? WEIGHTS_INDEX_FILE : WEIGHTS_FILE, root);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** The id of a token string in tokenizer.json (an added token, or a piece of the model's vocab). */
export function tokenIdOf(tokenizer: TokenizerJson, token: string): number | undefined {
  const added = tokenizer.added_tokens.find((t) => t.content === token);
  if (added) return added.id;
  const vocab = tokenizer.model.vocab;
  if (vocab && typeof vocab === 'object' && !Array.isArray(vocab) && Object.hasOwn(vocab, token)) {
    const id = (vocab as Record<string, unknown>)[token];
    return typeof id === 'number' ? id : undefined;
  }
  return undefined;
}

function tokenExists(tokenizer: TokenizerJson, token: string): boolean {
  return tokenIdOf(tokenizer, token) !== undefined;
}

/** The id of tokenizer_config.json's `eos_token`, when it names a token of the tokenizer. */
export function tokenizerEosId(tokenizer: TokenizerJson, config: TokenizerConfig): number | undefined {
  const eos = config.eos_token;
  const text = typeof eos === 'string' ? eos : eos?.content;
  return text === undefined ? undefined : tokenIdOf(tokenizer, text);
}

/**
 * Defaults from generation_config.json. The ids that end a sequence are its `eos_token_id`s plus
 * the tokenizer's `eos_token`, as vLLM stops on both (the tokenizer's as the primary EOS, the
 * generation config's as extra stop ids).
 */
function generationDefaults(g: GenerationConfigJson, tokenizerEos: number | undefined): GenerationDefaults {
  const ids = Array.isArray(g.eos_token_id) ? [...g.eos_token_id] : [g.eos_token_id];
  if (tokenizerEos !== undefined && !ids.includes(tokenizerEos)) ids.push(tokenizerEos);
  return Object.freeze({
    eosTokenIds: Object.freeze(ids),
    bosTokenId: g.bos_token_id ?? null,
    doSample: g.do_sample,
    temperature: g.temperature,
    topP: g.top_p,
    topK: g.top_k,
    maxNewTokens: g.max_new_tokens,
    repetitionPenalty: g.repetition_penalty,
  });
}

/**
 * Loads and verifies a checkpoint folder.
 *
 * @example
 * const checkpoint = await loadCheckpoint('models/reverie-tiny-test');
 * const weights = readWeights(checkpoint);
 * @throws CheckpointError naming the file and the problem
 */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const root = await resolveCheckpointDir(dir);
  const manifest = parseManifestJson(await readJsonFile(root, MANIFEST_FILE), root);

  // Cheap checks first (names, presence), then the hashes, then parsing verified bytes.
  const paths = new Map<string, string>();
  for (const name of Object.keys(manifest.files)) paths.set(name, await resolveInside(root, name));
  for (const name of REQUIRED_FILES) await requireListed(manifest, name, root);
  const weightsName = await weightsEntry(manifest, root);
  if (manifest.ngram !== null) await requireListed(manifest, manifest.ngram, root);
  for (const [name, path] of paths) {
    const actual = await sha256File(path);
    if (actual !== manifest.files[name]) {
      const problem = `sha256 mismatch: ${MANIFEST_FILE} says ${manifest.files[name]}, file has ${actual}`;
      throw new CheckpointError('sha256_mismatch', name, problem, root);
    }
  }

  const config = parseConfigFile(await readJsonFile(root, CONFIG_FILE), root);
  if (config.architecture !== manifest.architecture) {
    const problem = `architecture ${manifest.architecture} but ${CONFIG_FILE} says ${config.architecture}`;
    throw new CheckpointError('invalid', MANIFEST_FILE, problem, root);
  }
  const tokenizerJson = await readParsedFile(tokenizerJsonSchema, root, TOKENIZER_FILE);
  const tokenizerConfig = await readParsedFile(tokenizerConfigSchema, root, TOKENIZER_CONFIG_FILE);
  const generation = generationDefaults(
    await readParsedFile(generationConfigSchema, root, GENERATION_CONFIG_FILE),
    tokenizerEosId(tokenizerJson, tokenizerConfig),
  );
  for (const id of generation.eosTokenIds) {
    if (id >= config.vocabSize) {
      const problem = `eos_token_id ${id} is outside the vocabulary (${config.vocabSize})`;
      throw new CheckpointError('invalid', GENERATION_CONFIG_FILE, problem, root);
    }
  }
  for (const marker of manifest.thinking ? [manifest.thinking.start, manifest.thinking.end] : []) {
    if (!tokenExists(tokenizerJson, marker)) {
      throw new CheckpointError('invalid', MANIFEST_FILE, `thinking marker ${marker} is not a token`, root);
    }
  }

  let weightFiles = [paths.get(WEIGHTS_FILE)!];
  if (weightsName === WEIGHTS_INDEX_FILE) {
    const shards = shardNames(await readParsedFile(weightIndexSchema, root, WEIGHTS_INDEX_FILE));
    for (const shard of shards) await requireListed(manifest, shard, root); // refuses escaping names too
    weightFiles = shards.map((shard) => paths.get(shard)!);
  }

  return Object.freeze({
    dir: root,
    manifest: deepFreeze(manifest),
    config,
    generation,
    tokenizerJson,
    tokenizerConfig,
    weightFiles: Object.freeze(weightFiles),
    ngramFile: manifest.ngram === null ? null : paths.get(manifest.ngram)!,
  });
}

/** The verified sha256 of each weight file by base name (so the graph cache hashes nothing twice). */
export function weightSha256s(checkpoint: Checkpoint): Record<string, string> {
  const known: Record<string, string> = {};
  for (const f of checkpoint.weightFiles) known[basename(f)] = checkpoint.manifest.files[basename(f)]!;
  return known;
}

/**
 * Reads every weight of a loaded checkpoint into one map (shards merged), as float32. For small
 * models (tests, the reference forward); the graph builder streams them (weight-source.ts).
 * @throws CheckpointError bad_weights for a malformed file or a tensor found in two shards
 */
export function readWeights(checkpoint: Checkpoint): Map<string, Tensor> {
  return readAllWeights(checkpoint.weightFiles, checkpoint.dir);
}
