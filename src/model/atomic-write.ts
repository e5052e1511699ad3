import { randomUUID } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';

/**
 * The one way reverie writes a file that others may read meanwhile (manifests, converted graphs
 * and their stamps, n-gram stores): under a temporary name beside it, then a rename, so a reader
 * sees the old file or the new one, never half of one.
 */

/** A temporary name beside `path`, unique so that concurrent writers never share one. */
export function tempPathFor(path: string, unique: string = randomUUID()): string {
  return `${path}.${unique}.tmp`;
}

/** Writes `data` to `path` atomically (see above). */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = tempPathFor(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** {@link writeFileAtomic}, without blocking the event loop. */
export async function writeFileAtomicAsync(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}
