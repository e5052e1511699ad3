import { relative } from 'node:path';
import { CheckpointError } from './checkpoint-error.ts';
import type { Weights } from './onnx/decoder-graph.ts';
import { SafetensorsError, SafetensorsFile, type Tensor } from './safetensors.ts';

/**
 * A checkpoint's weights across all its safetensors shards, read one tensor at a time when asked
 * for: the graph builder takes each weight, writes it out and lets it go, so converting a model
 * needs memory for its largest tensor, not for the model.
 *
 * @example
 * const weights = WeightSource.open(checkpoint.weightFiles, checkpoint.dir);
 * try { buildDecoderGraph(cfg, weights, opts); } finally { weights.close(); }
 */
export class WeightSource implements Weights {
  readonly #files: SafetensorsFile[];
  readonly #where = new Map<string, SafetensorsFile>();
  readonly #root: string | undefined;

  private constructor(files: SafetensorsFile[], root: string | undefined) {
    this.#files = files;
    this.#root = root;
  }

  /**
   * Opens every shard and indexes its tensors.
   * @param root the checkpoint folder, to name files relative to it in errors
   * @throws CheckpointError bad_weights for a malformed file or a tensor found in two shards
   */
  static open(weightFiles: readonly string[], root?: string): WeightSource {
    const source = new WeightSource([], root);
    try {
      for (const file of weightFiles) {
        const f = source.#guard(file, () => SafetensorsFile.open(file));
        source.#files.push(f);
        for (const name of f.names()) {
          if (source.#where.has(name)) {
            throw new CheckpointError(
              'bad_weights',
              source.#name(file),
              `tensor ${name} is also in another shard`,
              root,
            );
          }
          source.#where.set(name, f);
        }
      }
    } catch (err) {
      source.close();
      throw err;
    }
    return source;
  }

  has(name: string): boolean {
    return this.#where.has(name);
  }

  /** All tensor names. */
  names(): string[] {
    return [...this.#where.keys()];
  }

  /** Shape and stored dtype of a tensor, without reading it. */
  describe(name: string): { dtype: string; shape: number[] } | undefined {
    return this.#where.get(name)?.describe(name);
  }

  /** Reads a tensor as float32 (a fresh copy on every call), or undefined when there is none. */
  get(name: string): Tensor | undefined {
    const f = this.#where.get(name);
    return f ? this.#guard(f.file, () => f.read(name)) : undefined;
  }

  close(): void {
    for (const f of this.#files) f.close();
    this.#files.length = 0;
  }

  #name(file: string): string {
    return this.#root ? relative(this.#root, file) : file;
  }

  #guard<T>(file: string, read: () => T): T {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof SafetensorsError)) throw err;
      const problem = err.message.slice(err.file.length + 2);
      throw new CheckpointError('bad_weights', this.#name(file), problem, this.#root, { cause: err });
    }
  }
}

/** Reads every tensor of the weight files into one map (small models: tests, the reference forward). */
export function readAllWeights(weightFiles: readonly string[], root?: string): Map<string, Tensor> {
  const source = WeightSource.open(weightFiles, root);
  try {
    return new Map(source.names().map((name) => [name, source.get(name)!]));
  } finally {
    source.close();
  }
}
