import { z } from 'zod';
import { chatPromptFields } from '../chat-completions/schema.ts';

/**
 * vLLM's `/tokenize` and `/detokenize` (outside `/v1`): a raw prompt or chat messages rendered
 * with the model's chat template, to token ids (and their pieces), and ids back to text.
 */

const model = z
  .string()
  .min(1)
  .optional()
  .describe('a model id from GET /v1/models (default: the default model)');
const returnTokenStrs = z.boolean().nullish().describe("also return each id's vocabulary piece");

export const tokenizePromptRequestSchema = z
  .strictObject({
    model,
    prompt: z.string(),
    add_special_tokens: z
      .boolean()
      .nullish()
      .describe("let the tokenizer's post-processor add its special tokens (BOS); default true"),
    return_token_strs: returnTokenStrs,
  })
  .meta({ id: 'TokenizePromptRequest' });

export const tokenizeChatRequestSchema = z
  .strictObject({
    model,
    ...chatPromptFields,
    add_special_tokens: z.boolean().nullish().describe('default false: the template writes its own'),
    return_token_strs: returnTokenStrs,
  })
  .meta({ id: 'TokenizeChatRequest' });

export const tokenizeResponseSchema = z
  .object({
    count: z.number().int(),
    max_model_len: z.number().int(),
    tokens: z.array(z.number().int()),
    token_strs: z.array(z.string()).nullable(),
  })
  .meta({ id: 'TokenizeResponse' });

export const detokenizeRequestSchema = z
  .strictObject({ model, tokens: z.array(z.number().int().min(0)) })
  .meta({ id: 'DetokenizeRequest' });

export const detokenizeResponseSchema = z.object({ prompt: z.string() }).meta({ id: 'DetokenizeResponse' });
