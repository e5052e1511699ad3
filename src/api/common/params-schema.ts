import { z } from 'zod';

/**
 * Request fields shared by /v1/chat/completions, /v1/completions and the WebSocket: OpenAI's
 * sampling fields plus reverie's `thinking` and `superposition` extensions. Ranges here are the
 * model-independent ones; limits that need model facts are checked in validate-model.ts.
 */

const int = () => z.number().int();

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
    mode: z
      .enum(['off', 'hard', 'soft', 'fuzzy', 'latent'])
      .optional()
      .describe("default: the checkpoint's default thinking mode"),
    max_tokens: int()
      .min(1)
      .optional()
      .describe('thinking budget in positions; `</think>` is forced at the budget'),
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

export const streamOptionsSchema = z
  .strictObject({ include_usage: z.boolean().optional() })
  .meta({ id: 'StreamOptions' });

/** Sampling and control fields common to both completion endpoints. */
export const samplingFields = {
  model: z.string().min(1).describe('a model id from GET /v1/models'),
  stream: z.boolean().nullish(),
  stream_options: streamOptionsSchema.nullish(),
  n: int().min(1).max(128).nullish().describe('parallel samples sharing the prompt'),
  max_tokens: int().min(1).nullish().describe('answer tokens per choice (thinking has its own budget)'),
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
  user: z.string().nullish(),
  thinking: thinkingSchema.nullish(),
  superposition: superpositionSchema.nullish(),
};

/** OpenAI fields that exist but that reverie does not implement: a 400 naming them, never silence. */
export const UNSUPPORTED_COMMON = [
  'tools',
  'tool_choice',
  'functions',
  'function_call',
  'parallel_tool_calls',
  'response_format',
  'audio',
  'modalities',
  'prediction',
  'web_search_options',
  'reasoning_effort',
  'store',
  'metadata',
  'service_tier',
  'guided_json',
  'guided_regex',
  'guided_choice',
  'guided_grammar',
] as const;
