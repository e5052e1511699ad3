import { z } from 'zod';
import { SUPPORTED_ARCHITECTURES } from './hf-config.ts';

/**
 * `reverie.json`: the manifest that turns a Hugging Face folder into a reverie checkpoint.
 * Every file the server reads is listed with its sha256 so that a served model is exactly the
 * one that was trained, evaluated and converted. See models/README.md for the prose version.
 */

/** A file name inside the checkpoint folder: relative, no `..`, no absolute paths. */
export const checkpointFileName = z
  .string()
  .min(1)
  .refine((name) => !name.startsWith('/') && !name.includes('\\') && !name.split('/').includes('..'), {
    message: 'file name must stay inside the checkpoint folder (no absolute path, no "..")',
  });

export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a lower-case hex sha256');

export const thinkingModeSchema = z.enum(['off', 'hard', 'soft', 'fuzzy', 'latent']);
export type ThinkingMode = z.infer<typeof thinkingModeSchema>;

export const decodingModeSchema = z.enum(['discrete', 'hard', 'soft', 'fuzzy', 'latent', 'superposed']);
export type DecodingMode = z.infer<typeof decodingModeSchema>;

const interval = z
  .tuple([z.number().min(0).max(1), z.number().min(0).max(1)])
  .describe('95% interval [low, high]');

/**
 * One row of the evaluation table (the paper's Table 1 layout: training variant x inference mode).
 * Rows written by `npm run eval:models` are measured through the server by `reverie eval` and
 * carry the intervals, the pass@k curve, thinking tokens and latency as well.
 */
export const evaluationRowSchema = z.object({
  task: z.string(),
  variant: z.string().describe('training variant, e.g. sft, latent, rl-hard, rl-soft, rl-fuzzy'),
  inference: z.string().describe('inference (thinking) mode, e.g. hard, soft, fuzzy, latent'),
  pass_at_1: z.number().min(0).max(1).describe('accuracy of the greedy answer'),
  pass_at_32: z.number().min(0).max(1).nullable().optional(),
  n: z.number().int().positive().describe('number of test questions'),
  pass_at_1_ci: interval.optional(),
  pass_at_32_ci: interval.optional(),
  /** pass@k from `samples` sampled answers per question (unbiased estimator), by k. */
  pass_at_k: z.record(z.string(), z.object({ value: z.number(), ci: interval })).optional(),
  samples: z.number().int().nonnegative().optional(),
  /** Mean thinking tokens of a greedy answer (usage reasoning_tokens). */
  thinking_tokens: z.number().nonnegative().optional(),
  /** Median end-to-end latency of a greedy request, ms. */
  latency_ms: z.number().nonnegative().optional(),
  measured_by: z.string().optional(),
});

/** Default soft/fuzzy thinking settings of a checkpoint (see `defaults.soft_thinking`). */
export const softThinkingDefaultsSchema = z.object({
  /** Soft mixture τ (fuzzy keeps 1e-4). */
  temperature: z.number().min(0).optional(),
  /** Most ids in one soft token (the paper's max_topk); 0 = whole vocabulary. */
  top_k: z.number().int().min(0).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  min_p: z.number().min(0).max(1).optional(),
  cold_stop: z
    .object({ entropy_below: z.number().min(0), patience: z.number().int().positive() })
    .nullable()
    .optional(),
});
export type SoftThinkingDefaults = z.infer<typeof softThinkingDefaultsSchema>;
/**
 * The weight quantization a checkpoint is served with (`reverie convert --quant`); see
 * docs/quantization.md. The graph is built from the float weights, so changing this only
 * rebuilds the derived graph.
 */
export const quantizationSchema = z
  .object({
    /** int8: one scale per output channel; int4: blocks of `block_size` along the input axis. */
    weights: z.enum(['int8', 'int4']),
    /** int4's block size (int8 ignores it). */
    block_size: z
      .number()
      .int()
      .min(16)
      .refine((n) => (n & (n - 1)) === 0, { message: 'block_size must be a power of two ≥ 16' })
      .default(32),
    /** int4 only: asymmetric blocks with a zero point each (false: symmetric blocks). */
    zero_points: z.boolean().default(true),
    /** The LM head's precision (of a tied model: the table it shares with the embedding). */
    lm_head: z.enum(['int8', 'int4', 'none']).default('int8'),
    /** The input embedding's precision (rows are dequantized when looked up); none: float. */
    embedding: z.enum(['int8', 'int4', 'none']).default('int8'),
  })
  .strict();
export type ManifestQuantization = z.infer<typeof quantizationSchema>;

export const manifestSchema = z
  .object({
    format: z.literal('reverie-checkpoint/1'),
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'name: letters, digits, ".", "_" and "-" only'),
    description: z.string(),
    architecture: z.enum(SUPPORTED_ARCHITECTURES),
    /** sha256 of every file the checkpoint consists of (weights, config, tokenizer, n-gram store, ...). */
    files: z.record(checkpointFileName, sha256Hex),
    /** Think markers, when the model thinks; detected from the tokenizer's special tokens by `convert`. */
    thinking: z.object({ start: z.string().min(1), end: z.string().min(1) }).nullable(),
    /** Decoding used when a request names none. */
    defaults: z
      .object({
        temperature: z.number().min(0).default(0),
        top_p: z.number().gt(0).max(1).default(1),
        /** From generation_config.json, as vLLM applies it; absent: off. */
        top_k: z.number().int().min(0).optional(),
        min_p: z.number().min(0).max(1).optional(),
        repetition_penalty: z.number().positive().optional(),
        /**
         * From generation_config.json's max_new_tokens, as vLLM caps a request's default with it;
         * absent: a request may use what its prompt leaves of the model length.
         */
        max_tokens: z.number().int().positive().optional(),
        thinking_mode: thinkingModeSchema.default('hard'),
        thinking_max_tokens: z.number().int().positive().default(512),
        /**
         * Soft/fuzzy thinking on this checkpoint when the request names no value: `reverie convert`
         * writes the Soft Thinking paper's settings for a pretrained model; absent (reverie's own
         * soft-trained checkpoints), the whole-vocabulary mixture of Soft Tokens, Hard Truths.
         */
        soft_thinking: softThinkingDefaultsSchema.optional(),
      })
      .default({
        temperature: 0,
        top_p: 1,
        thinking_mode: 'hard',
        thinking_max_tokens: 512,
      }),
    /**
     * Weights of the converted float graph: `fp16` when `reverie convert --dtype fp16` made it;
     * absent: fp32. Not with `quantization` (a quantized graph computes in fp32).
     */
    dtype: z.enum(['fp32', 'fp16']).optional(),
    /** Decoding modes the checkpoint supports; `latent` only for models trained to read hidden states. */
    modes: z.array(decodingModeSchema).min(1),
    training: z
      .object({ method: z.string(), command: z.string().optional() })
      .catchall(z.unknown())
      .nullable()
      .default(null),
    evaluation: z.array(evaluationRowSchema).default([]),
    /** Optional n-gram store for superposed decoding (a file also listed in `files`). */
    ngram: checkpointFileName.nullable().default(null),
    /** Quantized weights to serve; null: float weights (of `dtype`). */
    quantization: quantizationSchema.nullable().default(null),
  })
  // One manifest names one graph: float weights of `dtype`, or quantized ones, which compute in fp32.
  .refine((m) => !(m.quantization && m.dtype === 'fp16'), {
    message:
      'dtype fp16 and quantization exclude each other: a quantized graph computes in fp32 ' +
      '(convert --quant none for an fp16 graph, or --dtype fp32 to keep the quantization)',
    path: ['dtype'],
  });
export type Manifest = z.infer<typeof manifestSchema>;

export const MANIFEST_FILE = 'reverie.json';
