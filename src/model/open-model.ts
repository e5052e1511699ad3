import { ChatTemplate } from './chat-template.ts';
import { type Checkpoint, loadCheckpoint, weightSha256s } from './checkpoint.ts';
import { ensureGraph, type GraphInfo } from './graph-cache.ts';
import type { KvDtype } from './kv-store.ts';
import type { WeightDType } from './onnx/decoder-graph.ts';
import { type QuantizationChoice, servedGraph } from './quantization.ts';
import { type Device, ModelRunner } from './runner.ts';
import { TextTokenizer } from './tokenizer.ts';

/** Everything needed to serve one checkpoint: verified files, the graph, a runner, tokenizer and template. */
export interface OpenModel {
  checkpoint: Checkpoint;
  graph: GraphInfo;
  runner: ModelRunner;
  tokenizer: TextTokenizer;
  chatTemplate: ChatTemplate | null;
}

export interface OpenModelOptions {
  device?: Device;
  /** Weights of a float graph; default: what `convert` recorded in the manifest, else fp32 (see servedGraph). */
  dtype?: WeightDType;
  /** Serve other weights than the manifest's `quantization` names (see servedGraph). */
  quantization?: QuantizationChoice;
  threads?: number;
  /** KV storage precision (default float32). */
  kvDtype?: KvDtype;
  /** Device-resident KV between unchanged decode steps (default: on for WebGPU; see resident-kv.ts). */
  residentKv?: boolean;
  onProgress?: (message: string) => void;
}

/**
 * Loads a checkpoint folder, converts its graph if the cached one is missing or stale, and opens
 * an ORT session on the requested device.
 */
export async function openModel(dir: string, opts: OpenModelOptions = {}): Promise<OpenModel> {
  const checkpoint = await loadCheckpoint(dir);
  // Tokenizer and template first: they can still reject the checkpoint, and nothing is open yet.
  const tokenizer = new TextTokenizer(checkpoint.tokenizerJson, checkpoint.tokenizerConfig);
  const chatTemplate = checkpoint.tokenizerConfig.chat_template
    ? ChatTemplate.fromTokenizerConfig(checkpoint.tokenizerConfig)
    : null;
  const graph = await ensureGraph(checkpoint.dir, checkpoint.config, checkpoint.weightFiles, {
    ...servedGraph(checkpoint.manifest, opts),
    knownSha256: weightSha256s(checkpoint),
    onProgress: opts.onProgress,
  });
  const runner = await ModelRunner.open(graph.modelPath, checkpoint.config, {
    device: opts.device,
    threads: opts.threads,
    kvDtype: opts.kvDtype,
    residentKv: opts.residentKv,
  });
  return { checkpoint, graph, runner, tokenizer, chatTemplate };
}
