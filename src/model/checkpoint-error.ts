/**
 * Why a checkpoint folder could not be loaded or converted. The code is stable (tests, the CLI and
 * the server's error mapping branch on it); the message is for people and always starts with the
 * file it concerns, so a user knows which file to fix without reading a stack trace.
 */
export type CheckpointErrorCode =
  /** The folder itself does not exist or is not a directory. */
  | 'not_a_directory'
  /** A required or listed file is not in the folder. */
  | 'missing_file'
  /** A required file exists but `reverie.json` does not list it, so its sha256 cannot be checked. */
  | 'unlisted_file'
  /** A JSON file does not parse. */
  | 'bad_json'
  /** A file parses but does not have the expected shape, or files disagree with each other. */
  | 'invalid'
  /** A file's content does not match the sha256 in `reverie.json`. */
  | 'sha256_mismatch'
  /** `config.json` or `reverie.json` names an architecture reverie cannot run. */
  | 'unsupported_architecture'
  /** A file name is absolute, contains `..`, or is a symlink that resolves outside the folder. */
  | 'path_escape'
  /** A weight file is malformed, or shards disagree (duplicate tensors, missing tensors). */
  | 'bad_weights';

/**
 * A coded checkpoint error.
 *
 * @example
 * try { await loadCheckpoint(dir); }
 * catch (err) { if (err instanceof CheckpointError && err.code === 'sha256_mismatch') console.error(err.file); }
 */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';

  /**
   * @param code what went wrong (stable)
   * @param file the file it concerns, relative to the checkpoint folder as written in the manifest
   *   (`.` for the folder itself)
   * @param problem what is wrong with it, without the file name (the message adds it)
   * @param dir the checkpoint folder, when known, so messages from several models stay distinct
   */
  constructor(
    readonly code: CheckpointErrorCode,
    readonly file: string,
    problem: string,
    readonly dir?: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${problem}${dir ? ` (checkpoint ${dir})` : ''}`, options);
  }
}
