import { z } from 'zod';

/** One entry of `GET /v1/models`: OpenAI's model object plus the checkpoint's manifest summary. */
export const modelObjectSchema = z
  .object({
    id: z.string(),
    object: z.literal('model'),
    created: z.number().int(),
    owned_by: z.string(),
    root: z.string().describe('the checkpoint folder it was loaded from (as vLLM: the model path)'),
    parent: z.string().nullable().describe('the base model of an adapter; null for a checkpoint'),
    max_model_len: z.number().int(),
    description: z.string(),
    architecture: z.string(),
    training_method: z.string().nullable(),
    modes: z.array(z.string()).describe('decoding modes the checkpoint supports'),
    thinking: z
      .object({ start: z.string(), end: z.string() })
      .nullable()
      .describe('think markers; null for a model that does not think'),
    defaults: z.record(z.string(), z.unknown()).describe('decoding used when a request names none'),
    ngram: z.boolean().describe('whether the checkpoint ships an n-gram store for superposed decoding'),
    quantization: z
      .enum(['none', 'int8', 'int4'])
      .describe('weights the server runs: none (float), int8 or int4 (see docs/quantization.md)'),
  })
  .meta({ id: 'Model' });

export const modelListSchema = z
  .object({ object: z.literal('list'), data: z.array(modelObjectSchema) })
  .meta({ id: 'ModelList' });
