import { z } from 'zod';
import { traceStepSchema, usageSchema } from '../chat-completions/schema.ts';
import { samplingFields, UNSUPPORTED_COMMON } from '../common/params-schema.ts';
import { structuredOutputFields } from '../common/structured-output.ts';

const tokenIds = z.array(z.number().int().min(0)).min(1);

/** Tools are a chat feature (as in vLLM's completions API). */
export const UNSUPPORTED_COMPLETIONS = [
  ...UNSUPPORTED_COMMON,
  'suffix',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
] as const;

/** `POST /v1/completions` request body (legacy completions: a raw prompt, no chat template). */
export const completionRequestSchema = z
  .object({
    ...samplingFields,
    ...structuredOutputFields,
    prompt: z
      .union([z.string(), z.array(z.string()).min(1), tokenIds, z.array(tokenIds).min(1)])
      .describe('text or token ids; one prompt per request'),
    logprobs: z
      .number()
      .int()
      .min(0)
      .max(20)
      .nullish()
      .describe('log-probabilities of the sampled token and this many alternatives'),
    echo: z.boolean().nullish().describe('only false is supported'),
    best_of: z.number().int().min(1).nullish().describe('only 1 is supported'),
  })
  .meta({
    id: 'CompletionRequest',
    description:
      'OpenAI completion request plus reverie extensions. Unknown top-level fields are ignored (as vLLM) and listed in the X-Reverie-Ignored-Fields response header; ' +
      `these are refused until implemented (400, code unsupported_parameter): ${UNSUPPORTED_COMPLETIONS.join(', ')}, echo: true, best_of > 1, several prompts.`,
  });
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

export const completionLogprobsSchema = z
  .object({
    tokens: z.array(z.string()),
    token_logprobs: z.array(z.number()),
    top_logprobs: z.array(z.record(z.string(), z.number())).nullable(),
    text_offset: z.array(z.number().int()),
  })
  .meta({ id: 'CompletionLogprobs' });

const completionChoice = z.object({
  index: z.number().int(),
  text: z.string(),
  logprobs: completionLogprobsSchema.nullable(),
  finish_reason: z.enum(['stop', 'length']).nullable(),
  reasoning_content: z.string().nullable().optional(),
  reasoning_trace: z.array(traceStepSchema).optional(),
});

export const completionResponseSchema = z
  .object({
    id: z.string(),
    object: z.literal('text_completion'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(completionChoice),
    usage: usageSchema.nullable().optional(),
  })
  .meta({ id: 'Completion', description: 'Also the shape of each SSE chunk when streamed.' });
