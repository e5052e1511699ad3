import { z } from 'zod';
import { thinkingModeSchema } from '../model/manifest.ts';
import { structuredOutputSchema } from './structured/spec.ts';

/**
 * A request's decoding parameters, as one zod schema: OpenAI's sampling fields, vLLM's extra ones
 * and reverie's `thinking` and `superposition`. Every range lives here once: the API's request
 * schemas spread {@link decodingFields} (so openapi.yaml documents them), and the engine parses
 * with {@link decodingParamsSchema} when it resolves a request (resolve-params.ts), so both refuse
 * the same values. Limits that need the model (vocabulary, modes, length) are checked there.
 */

const int = () => z.number().int();

export const REASONING_EFFORTS = ['low', 'medium', 'high'] as const;
/**
 * Thinking budgets of `reasoning_effort`, in tokens. OpenAI does not publish its budgets; these are
 * the ones Gemini's OpenAI-compatible API documents for the same three values.
 */
export const REASONING_EFFORT_BUDGETS: Record<(typeof REASONING_EFFORTS)[number], number> = {
  low: 1024,
  medium: 8192,
  high: 24576,
};

export const noiseSchema = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('gaussian'),
      scale: z.number().min(0).max(100).optional().describe('γ: std = γ·RMS(E) added to the input embedding'),
    }),
    z.strictObject({
      type: z.literal('dirichlet'),
      alpha: z.number().min(1e-6).max(1e6).optional().describe('concentration α in p′ ~ Dir(α·p)'),
    }),
    z.strictObject({
      type: z.literal('gumbel'),
      temperature: z.number().min(1e-6).max(100).optional().describe('τ_g in softmax((log p + g)/τ_g)'),
    }),
  ])
  .meta({ id: 'ThinkingNoise', description: 'Exploration noise for soft and fuzzy thinking.' });

export const coldStopSchema = z
  .strictObject({
    entropy_below: z.number().min(0).describe('threshold in nats on the next-token entropy'),
    patience: int().min(1).describe('consecutive low-entropy steps that end thinking'),
  })
  .meta({
    id: 'ColdStop',
    description: 'End thinking after `patience` steps whose entropy is below `entropy_below`.',
  });

export const thinkingSchema = z
  .strictObject({
    mode: thinkingModeSchema.optional().describe("default: the checkpoint's default thinking mode"),
    max_tokens: int()
      .min(1)
      .optional()
      .describe(
        "thinking budget in positions, inside the request's max_tokens; `</think>` is forced at the budget (default: from reasoning_effort, else the checkpoint's, else 512)",
      ),
    temperature: z
      .number()
      .min(0)
      .max(100)
      .optional()
      .describe(
        "thinking τ (default: hard and latent the request's temperature; soft the checkpoint's soft default, else 0.5; fuzzy 1e-4)",
      ),
    top_k: int()
      .min(-1)
      .optional()
      .describe("default: the request's; for soft/fuzzy unset there, the checkpoint's soft default"),
    top_p: z.number().gt(0).max(1).optional(),
    min_p: z.number().min(0).max(1).optional(),
    noise: noiseSchema.nullish(),
    cold_stop: coldStopSchema
      .nullish()
      .describe("default: none; soft/fuzzy: the checkpoint's soft default (null turns it off)"),
    trace: z.boolean().optional().describe('return each step: shadow token, top-k mixture, entropy'),
    trace_top_k: int().min(1).max(100).optional().describe('tokens per traced step (default 5)'),
  })
  .meta({ id: 'Thinking', description: 'How the thinking phase feeds the model (reverie extension).' });

export const superpositionSchema = z
  .strictObject({
    drafts: int().min(1).max(64).describe('k drafts, returned as k choices'),
    alpha: z.number().min(0).max(1).optional().describe('n-gram interpolation weight'),
    temperature: z.number().min(1e-6).max(100).optional(),
    candidates: int()
      .min(1)
      .max(100_000)
      .optional()
      .describe('tokens kept from the model distribution (default 3k)'),
    ngram: z.boolean().optional().describe("use the checkpoint's n-gram store (default true)"),
    lambdas: z.array(z.number().min(0)).length(5).optional().describe('λ for n = 2..6'),
    penalty: z.number().min(0).max(1e9).optional(),
  })
  .meta({
    id: 'Superposition',
    description: 'Superposed decoding: k drafts from one sequence (reverie extension).',
  });

/** The decoding fields both completion endpoints take under these names (chat and completions). */
export const decodingFields = {
  n: int().min(1).max(128).nullish().describe('parallel samples sharing the prompt'),
  max_tokens: int()
    .min(1)
    .nullish()
    .describe(
      'generated tokens per choice, reasoning included (as OpenAI counts them); default: what the prompt leaves of the model length, capped by the checkpoint default',
    ),
  reasoning_effort: z
    .enum(REASONING_EFFORTS)
    .nullish()
    .describe(
      `thinking budget when thinking.max_tokens is unset: ${Object.entries(REASONING_EFFORT_BUDGETS)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')} tokens (inside max_tokens); also passed to the chat template`,
    ),
  temperature: z.number().min(0).max(2).nullish().describe('0 = greedy'),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: int().min(-1).nullish().describe('0 or −1 = off'),
  min_p: z.number().min(0).max(1).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  repetition_penalty: z.number().gt(0).max(100).nullish(),
  logit_bias: z.record(z.string(), z.number().min(-100).max(100)).nullish(),
  seed: int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).nullish(),
  stop: z
    .union([z.string().min(1), z.array(z.string().min(1)).max(16)])
    .nullish()
    .describe('up to 16 strings ending the answer; not part of the output unless include_stop_str_in_output'),
  stop_token_ids: z
    .array(int().min(0))
    .max(64)
    .nullish()
    .describe('token ids that end the answer besides EOS (vLLM)'),
  include_stop_str_in_output: z
    .boolean()
    .nullish()
    .describe('keep the stop string, or the stop token text, at the end of the output (default false)'),
  min_tokens: int()
    .min(0)
    .nullish()
    .describe('answer tokens before EOS, a stop token or a stop string may end it (default 0)'),
  ignore_eos: z.boolean().nullish().describe("do not stop on the model's EOS ids (default false)"),
  skip_special_tokens: z.boolean().nullish().describe('leave special tokens out of the text (default true)'),
  spaces_between_special_tokens: z
    .boolean()
    .nullish()
    .describe(
      'with skip_special_tokens false: spaces between adjacent added tokens as the tokenizer decodes them (default true)',
    ),
  thinking: thinkingSchema.nullish(),
  superposition: superpositionSchema.nullish(),
};

/**
 * Everything a request may set about its decoding. `logprobs` and `top_logprobs` are spelled
 * differently by the two endpoints (chat: a boolean and a count; completions: a count), and
 * `structured_output` is built by the API from `response_format` / `structured_outputs` /
 * `guided_*`: they are not among {@link decodingFields}.
 */
export const decodingParamsSchema = z.strictObject({
  ...decodingFields,
  logprobs: z.boolean().nullish(),
  top_logprobs: int().min(0).max(20).nullish(),
  structured_output: structuredOutputSchema.nullish(),
});

/** A request's decoding parameters as callers write them: every field optional (null = unset). */
export type DecodingParams = z.input<typeof decodingParamsSchema>;
export type ThinkingParams = z.input<typeof thinkingSchema>;
export type NoiseParams = z.input<typeof noiseSchema>;
export type ColdStopParams = z.input<typeof coldStopSchema>;
export type SuperpositionParams = z.input<typeof superpositionSchema>;
/** The fields of {@link decodingFields}, as parsed from a request body. */
export type DecodingFields = z.output<z.ZodObject<typeof decodingFields>>;
