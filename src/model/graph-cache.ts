import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { writeFileAtomic } from './atomic-write.ts';
import { sha256File } from './checkpoint.ts';
import type { ModelConfig } from './hf-config.ts';
import { u8s8MaySaturate } from './onnx/cpu-int8.ts';
import type { WeightDType, Weights } from './onnx/decoder-graph.ts';
import { QUANTIZER_VERSION, type QuantSpec, quantTag } from './quantization.ts';
import type { Tensor } from './safetensors.ts';
import { WeightSource } from './weight-source.ts';

/**
 * The converted graph is derived data: it lives beside the checkpoint (or in a user cache when
 * the checkpoint folder is read-only) with a stamp recording which weights, which configuration
 * and which builder made it, and is rebuilt whenever one of them changes.
 */

/**
 * Bump when the graph layout changes, so stale graphs are rebuilt. 2: cos/sin computed from the
 * positions, dense-mixture inputs, Qwen3 q/k norms. 3: the whole cache as an output
 * (`cache_key_{l}`/`cache_value_{l}`), for device-resident KV.
 */
export const BUILDER_VERSION = 3;

export interface GraphStamp {
  builder: number;
  dtype: WeightDType;
  /** The weight quantization the graph was built with; null for float weights. */
  quantization: QuantSpec | null;
  /** QUANTIZER_VERSION of a quantized graph (absent for float ones). */
  quantizer?: number;
  weightsSha256: string;
  /** sha256 of the parsed model configuration (shapes, RoPE scaling, ...): the graph bakes it in. */
  configSha256: string;
  /** Root-mean-square of the input embedding's entries (soft-thinking noise is scaled by it). */
  embeddingRms: number;
}

export interface GraphInfo extends GraphStamp {
  modelPath: string;
  rebuilt: boolean;
}

export interface EnsureGraphOptions {
  dtype?: WeightDType;
  /** Quantized weights (see quant-graph.ts); each spec gets its own file beside the float graph. */
  quantization?: QuantSpec | null;
  /** Where to write the graph (default: the checkpoint folder, else ~/.cache/reverie). */
  outDir?: string;
  /** false: no whole-cache outputs (a `nocache` file, for `bench runtime --kv-path` only). */
  cacheOutputs?: boolean;
  force?: boolean;
  /** sha256 of each weight file by base name, when already known (from a verified manifest). */
  knownSha256?: Record<string, string>;
  onProgress?: (message: string) => void;
}

/**
 * One hash over all weight files, from their individual sha256s (sorted by file name). A loaded
 * checkpoint passes the sha256s its manifest already verified, so nothing is hashed twice.
 */
export async function weightsHash(
  weightFiles: readonly string[],
  known: Record<string, string> = {},
): Promise<string> {
  const hash = createHash('sha256');
  for (const f of [...weightFiles].sort())
    hash.update(`${basename(f)}:${known[basename(f)] ?? (await sha256File(f))}\n`);
  return hash.digest('hex');
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const EMBEDDING = 'model.embed_tokens.weight';

/** Root-mean-square of the input embedding's entries (soft-thinking noise is scaled by it). */
export function embeddingRms(weights: Weights): number {
  const e = weights.get(EMBEDDING);
  if (!e) throw new Error(`weights: missing ${EMBEDDING}`);
  return rootMeanSquare(e);
}

function rootMeanSquare(t: Tensor): number {
  let s = 0;
  for (let i = 0; i < t.data.length; i++) s += t.data[i]! * t.data[i]!;
  return Math.sqrt(s / t.data.length);
}

/**
 * `source` as the builder reads it, taking the embedding's RMS from the builder's own read: a
 * second read would hold a second float copy of the largest tensor at the conversion's peak.
 */
function measuringEmbedding(source: Weights): { weights: Weights; rms: () => number } {
  let rms: number | null = null;
  const weights: Weights = {
    has: (name) => source.has(name),
    get: (name) => {
      const t = source.get(name);
      if (t && name === EMBEDDING) rms ??= rootMeanSquare(t);
      return t;
    },
  };
  return { weights, rms: () => rms ?? embeddingRms(source) };
}

/** Returns a graph for these weights, building it if none is cached or the cached one is stale. */
export async function ensureGraph(
  checkpointDir: string,
  cfg: ModelConfig,
  weightFiles: readonly string[],
  opts: EnsureGraphOptions = {},
): Promise<GraphInfo> {
  const dtype = opts.dtype ?? 'fp32';
  const sha = await weightsHash(weightFiles, opts.knownSha256);
  const configSha = createHash('sha256').update(JSON.stringify(cfg)).digest('hex');
  const dir =
    opts.outDir ??
    (writable(checkpointDir) ? checkpointDir : join(homedir(), '.cache', 'reverie', sha.slice(0, 16)));
  mkdirSync(dir, { recursive: true });
  // int8 weights take the layout this CPU multiplies correctly at full speed (cpu-int8.ts).
  const quantization = opts.quantization
    ? { ...opts.quantization, unsignedInt8: opts.quantization.unsignedInt8 || u8s8MaySaturate() }
    : null;
  const cacheOutputs = opts.cacheOutputs ?? true;
  const tags = [
    ...(dtype === 'fp32' ? [] : [dtype]),
    ...(quantization ? [quantTag(quantization)] : []),
    ...(cacheOutputs ? [] : ['nocache']),
  ];
  const modelPath = join(dir, ['model', ...tags, 'onnx'].join('.'));
  const stampPath = `${modelPath}.json`;
  if (!opts.force && existsSync(modelPath) && existsSync(stampPath)) {
    try {
      const stamp = JSON.parse(readFileSync(stampPath, 'utf8')) as GraphStamp;
      if (
        stamp.builder === BUILDER_VERSION &&
        stamp.dtype === dtype &&
        JSON.stringify(stamp.quantization ?? null) === JSON.stringify(quantization) &&
        (!quantization || stamp.quantizer === QUANTIZER_VERSION) &&
        stamp.weightsSha256 === sha &&
        stamp.configSha256 === configSha
      ) {
        return { ...stamp, modelPath, rebuilt: false };
      }
    } catch {
      // An unreadable stamp just means we rebuild.
    }
  }
  const progress = opts.onProgress ?? (() => {});
  progress(
    `reading weights tensor by tensor (${weightFiles.length} file${weightFiles.length > 1 ? 's' : ''})`,
  );
  const started = performance.now();
  // The builder and its protobuf library load only now: a server with a current graph never needs them.
  const [{ buildDecoderGraph }, { ModelFile }] = await Promise.all([
    import('./onnx/decoder-graph.ts'),
    import('./onnx/write-model.ts'),
  ]);
  const source = WeightSource.open(weightFiles, checkpointDir);
  const { weights, rms: measuredRms } = measuringEmbedding(source);
  const out = new ModelFile(modelPath);
  let rms: number;
  try {
    const graph = buildDecoderGraph(cfg, weights, {
      dtype,
      cacheOutputs,
      ...(quantization ? { quantization } : {}),
      sink: out.sink,
      onProgress: (done, total) => {
        const gb = (out.bytesWritten / 1e9).toFixed(2);
        const s = ((performance.now() - started) / 1000).toFixed(1);
        progress(`layer ${done}/${total}: ${gb} GB written, ${s} s`);
      },
    });
    progress(`writing ${basename(modelPath)}`);
    const kind = [dtype, ...(quantization ? [quantTag(quantization)] : [])].join(', ');
    out.commit(graph, `reverie decoder (${cfg.architecture}, ${kind}), weights sha256 ${sha}`);
    rms = measuredRms();
  } catch (err) {
    out.abort();
    throw err;
  } finally {
    source.close();
  }
  const stamp: GraphStamp = {
    builder: BUILDER_VERSION,
    dtype,
    quantization,
    ...(quantization ? { quantizer: QUANTIZER_VERSION } : {}),
    weightsSha256: sha,
    configSha256: configSha,
    embeddingRms: rms,
  };
  // Atomic too: a concurrent reader sees the old stamp or the new one, never half of one.
  writeFileAtomic(stampPath, `${JSON.stringify(stamp, null, 2)}\n`);
  return { ...stamp, modelPath, rebuilt: true };
}
