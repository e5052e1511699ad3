import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../../src/model/checkpoint.ts';
import { ensureGraph } from '../../src/model/graph-cache.ts';
import { type TestModelOptions, TINY, writeTestCheckpoint } from '../../src/model/test-model.ts';
import { TEST_MODELS_DIR } from './tiny-models.ts';

/**
 * Tiny test checkpoints written, and their ONNX graphs built, once and shared by every test (and
 * every test process) that asks for the same options: engine, API and decoding tests used to
 * write and convert their own copy, about twenty graph builds a run. The folder's name is a hash
 * of the options and of every source file under src/model/, so a change to the weights generator,
 * the tokenizer files, the manifest or the graph builder gets a fresh build, never a stale one.
 * Shared folders are read-only for tests: {@link copyOfSharedCheckpoint} gives a private copy.
 */

export type SharedCheckpointOptions = Pick<TestModelOptions, 'seed' | 'tieEmbeddings'> & {
  name?: string;
  latent?: boolean;
};

const SRC_MODEL = join(import.meta.dirname, '..', '..', 'src', 'model');
let sourcesHash: string | null = null;

/** sha256 over every file under src/model/ (names and contents, in a fixed order). */
function modelSourcesHash(): string {
  if (sourcesHash) return sourcesHash;
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(`${path.slice(SRC_MODEL.length)}\n`).update(readFileSync(path));
    }
  };
  walk(SRC_MODEL);
  sourcesHash = hash.digest('hex');
  return sourcesHash;
}

/**
 * The folder of a shared tiny checkpoint with its graph built (`<root>/<name>`, alone in `root`).
 * @example const dir = await sharedCheckpoint({ seed: 7, name: 'tiny' });
 */
export async function sharedCheckpoint(options: SharedCheckpointOptions = {}): Promise<string> {
  const name = options.name ?? 'tiny';
  // Defaults spelled out, so the same checkpoint asked for in two ways is built once.
  const canonical = {
    name,
    seed: options.seed ?? 1,
    latent: options.latent ?? false,
    tieEmbeddings: options.tieEmbeddings ?? TINY.tieEmbeddings,
  };
  const key = createHash('sha256')
    .update(JSON.stringify(canonical))
    .update(modelSourcesHash())
    .digest('hex')
    .slice(0, 16);
  const root = join(TEST_MODELS_DIR, 'shared', `${name}-${key}`);
  const dir = join(root, name);
  if (existsSync(join(root, '.complete'))) return dir;
  // Built aside and renamed into place: a concurrent test process sees all of it or nothing.
  const building = `${root}.${process.pid}.tmp`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  await writeTestCheckpoint(join(building, name), canonical);
  const checkpoint = await loadCheckpoint(join(building, name));
  await ensureGraph(checkpoint.dir, checkpoint.config, checkpoint.weightFiles);
  writeFileSync(join(building, '.complete'), '');
  try {
    renameSync(building, root);
  } catch {
    // Another process finished first: use its copy.
    rmSync(building, { recursive: true, force: true });
  }
  return dir;
}

/** A private copy of a shared checkpoint (graph included) at `dest`, for a test that changes it. */
export async function copyOfSharedCheckpoint(
  dest: string,
  options: SharedCheckpointOptions = {},
): Promise<string> {
  cpSync(await sharedCheckpoint(options), dest, { recursive: true });
  return dest;
}
