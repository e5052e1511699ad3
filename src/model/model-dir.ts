import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MANIFEST_FILE } from './manifest.ts';

/** The folder holding the served checkpoints: `MODELS_DIR` (empty counts as unset), else `models/` of the project. */
export function modelsDir(): string {
  return resolve(process.env.MODELS_DIR || join(import.meta.dirname, '..', '..', 'models'));
}

/**
 * Checkpoint folders under `root` (those with a reverie.json), the default one first, the others by
 * name (code-point order). `root/DEFAULT` names the default checkpoint; without it (or when it is
 * empty) the first by name is the default.
 * @throws Error when DEFAULT names a folder that is not a checkpoint of `root`
 */
export function listCheckpointDirs(root: string = modelsDir()): string[] {
  if (!existsSync(root)) return [];
  const dirs = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(root, e.name, MANIFEST_FILE)))
    .map((e) => e.name)
    .sort();
  const defaultFile = join(root, 'DEFAULT');
  const preferred = existsSync(defaultFile) ? readFileSync(defaultFile, 'utf8').trim() : '';
  if (preferred === '') return dirs.map((d) => join(root, d));
  // Serving another model as the default than the one asked for would go unnoticed: refuse.
  if (!dirs.includes(preferred)) {
    throw new Error(
      `${defaultFile} names "${preferred}", which is not a checkpoint folder (with ${MANIFEST_FILE}) of ${root}; ` +
        `checkpoints there: ${dirs.join(', ') || 'none'}`,
    );
  }
  return [preferred, ...dirs.filter((d) => d !== preferred)].map((d) => join(root, d));
}

/** The default checkpoint's folder; throws with a hint when there is none. */
export function defaultCheckpointDir(root: string = modelsDir()): string {
  const [first] = listCheckpointDirs(root);
  if (!first) {
    throw new Error(
      `no checkpoint in ${root} (a folder with ${MANIFEST_FILE}); make one with \`npx reverie make-test-model --out ${join(root, 'tiny-test')}\``,
    );
  }
  return first;
}
