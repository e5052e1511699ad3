import { z } from 'zod';
import { decodingFields } from '../../decoding/params-schema.ts';

/**
 * Request fields shared by /v1/chat/completions, /v1/completions and the WebSocket: the decoding
 * fields, whose schema (ranges included) is the engine's own (src/decoding/params-schema.ts),
 * plus what only the API reads.
 */

export const streamOptionsSchema = z
  .strictObject({
    include_usage: z.boolean().nullish().describe('a last chunk with the usage of the whole request'),
    continuous_usage_stats: z
      .boolean()
      .nullish()
      .describe('with include_usage: the usage so far on every chunk too (vLLM)'),
    include_obfuscation: z
      .boolean()
      .nullish()
      .describe(
        'accepted and ignored (listed in X-Reverie-Ignored-Fields when true): reverie adds no obfuscation padding',
      ),
  })
  .meta({ id: 'StreamOptions' });

/** Sampling and control fields common to both completion endpoints. */
export const samplingFields = {
  model: z.string().min(1).describe('a model id from GET /v1/models'),
  stream: z.boolean().nullish(),
  stream_options: streamOptionsSchema.nullish(),
  ...decodingFields,
  include_reasoning: z
    .boolean()
    .nullish()
    .describe('false: leave the reasoning out of the output; the model still thinks (vLLM, default true)'),
  user: z.string().nullish(),
};

/**
 * OpenAI fields that exist but that reverie does not implement: a 400 naming them, never silence.
 * Fields no endpoint knows are ignored instead, with a warning (see `readBody`).
 */
export const UNSUPPORTED_COMMON = [
  'functions',
  'function_call',
  'audio',
  'modalities',
  'prediction',
  'web_search_options',
  'store',
  'metadata',
  'service_tier',
] as const;
