import { z } from 'zod';
import { decodingFields } from '../../decoding/params-schema.ts';

/**
 * Request fields shared by /v1/chat/completions, /v1/completions and the WebSocket: the decoding
 * fields, whose schema (ranges included) is the engine's own (src/decoding/params-schema.ts),
 * plus what only the API reads.
 */

export const streamOptionsSchema = z
  .strictObject({ include_usage: z.boolean().optional() })
  .meta({ id: 'StreamOptions' });

/** Sampling and control fields common to both completion endpoints. */
export const samplingFields = {
  model: z.string().min(1).describe('a model id from GET /v1/models'),
  stream: z.boolean().nullish(),
  stream_options: streamOptionsSchema.nullish(),
  ...decodingFields,
  user: z.string().nullish(),
};

/** OpenAI fields that exist but that reverie does not implement: a 400 naming them, never silence. */
export const UNSUPPORTED_COMMON = [
  'functions',
  'function_call',
  'audio',
  'modalities',
  'prediction',
  'web_search_options',
  'reasoning_effort',
  'store',
  'metadata',
  'service_tier',
] as const;
