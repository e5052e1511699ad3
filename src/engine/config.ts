import { z } from 'zod';
import { DEVICES } from '../model/execution-provider.ts';

/**
 * Engine knobs, parsed once with zod into a frozen object. Defaults follow vLLM where it has one
 * (max_num_seqs 256 is vLLM's GPU default; on a 2-core CPU 64 rows already saturate a step).
 */
export const engineOptionsSchema = z.object({
  /** Checkpoint folders to serve; the first is the default model. */
  checkpointDirs: z.array(z.string()).min(1),
  device: z.enum(DEVICES).default('cpu'),
  /**
   * Weights to serve every checkpoint with, instead of what its manifest's `quantization` says:
   * `none` (float), `int8` or `int4` (see docs/quantization.md). Default: the manifest's.
   */
  quantization: z.enum(['none', 'int8', 'int4']).optional(),
  /** Intra-op threads for ORT's CPU provider (default: all cores). */
  threads: z.number().int().positive().optional(),
  /** Most sequences (rows) in one step. */
  maxNumSeqs: z.number().int().positive().default(64),
  /** Token budget of one step: decode rows first, prompt chunks fill the rest (chunked prefill). */
  maxBatchedTokens: z.number().int().positive().default(512),
  /**
   * KV cache budget of each model, sequences and prefix cache together; default: what the
   * configuration can use (see kv-budget.ts).
   */
  kvBudgetBytes: z.number().int().positive().optional(),
  /** Cap on one sequence's positions; default: the model's max_position_embeddings. */
  maxModelLen: z.number().int().positive().optional(),
  /** Requests waiting for admission before new ones are refused as overloaded. */
  queueLimit: z.number().int().nonnegative().default(256),
  /**
   * KV storage precision of the runner: float16 halves the bytes per position (so the derived
   * budget holds twice the positions) at the cost of converting on every step.
   */
  kvDtype: z.enum(['float32', 'float16']).default('float32'),
  /**
   * Keep the KV cache where the model computed it while a decode batch is unchanged (see
   * src/model/resident-kv.ts). Default: on for WebGPU (the cache stays in GPU memory), off on the
   * CPU, where it only adds copies; true on the CPU runs the GPU path's logic for testing.
   */
  residentKv: z.boolean().optional(),
  /** Reuse KV of repeated prompt prefixes. */
  prefixCache: z.boolean().default(true),
  /**
   * Flow control: events one request may have waiting for a slow reader (SSE, WebSocket) before
   * it is paused (out of the batches, KV kept); it resumes once its reader has taken half.
   */
  maxBufferedEvents: z.number().int().min(2).default(256),
  /** Flow control: a request paused this long (its reader took nothing) is cancelled, ms. */
  stallTimeoutMs: z.number().int().positive().default(30_000),
});

export type EngineOptionsInput = z.input<typeof engineOptionsSchema>;
export type EngineOptions = Readonly<z.output<typeof engineOptionsSchema>>;

export function parseEngineOptions(input: EngineOptionsInput): EngineOptions {
  return Object.freeze(engineOptionsSchema.parse(input));
}
