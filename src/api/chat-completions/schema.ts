import { z } from 'zod';
import { samplingFields, UNSUPPORTED_COMMON } from '../common/params-schema.ts';
import { structuredOutputFields } from '../common/structured-output.ts';
import { functionToolSchema, toolCallSchema, toolFields } from '../common/tools-schema.ts';

/** A text part of a message's content; a message's text parts are joined with "\n" (as vLLM). */
export const textPartSchema = z
  .strictObject({ type: z.literal('text'), text: z.string() })
  .meta({ id: 'TextPart' });

/** Part types of OpenAI's multimodal messages: recognised so that the 400 can name the part. */
export const MEDIA_PART_TYPES = ['image_url', 'input_audio', 'file', 'video_url', 'audio_url'] as const;
export const mediaPartSchema = z.looseObject({ type: z.enum(MEDIA_PART_TYPES) }).meta({
  id: 'MediaPart',
  description: 'Image, audio, video and file parts: refused with a 400 naming the part (text-only models)',
});

export const chatMessageSchema = z
  .strictObject({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
    content: z
      .union([z.string(), z.array(z.union([textPartSchema, mediaPartSchema]))])
      .nullish()
      .describe('null or absent on an assistant turn that only calls tools'),
    name: z.string().optional(),
    tool_calls: z
      .array(toolCallSchema)
      .nullish()
      .describe("assistant turns: the calls it made (rendered by the model's chat template)"),
    tool_call_id: z.string().nullish().describe('tool turns: the call this result answers (required)'),
    /** An earlier turn's reasoning goes to the chat template, which decides what to render (Qwen3 keeps the last turn's). */
    reasoning: z
      .string()
      .nullish()
      .describe(
        "an assistant turn's reasoning (vLLM); passed to the chat template as reasoning and reasoning_content",
      ),
    reasoning_content: z
      .string()
      .nullish()
      .describe('the same under its older name (SGLang, llama.cpp); send one of the two'),
    refusal: z.null().optional().describe('accepted as OpenAI clients echo it back (null only)'),
  })
  .meta({ id: 'ChatMessage' });
export type ChatMessageInput = z.infer<typeof chatMessageSchema>;

/** The fields that shape the rendered prompt (chat completions and /tokenize, see chat-prompt.ts). */
export const chatPromptFields = {
  messages: z.array(chatMessageSchema).min(1),
  tools: z
    .array(functionToolSchema)
    .nullish()
    .describe('functions the model may call; passed to the chat template as `tools` (as vLLM)'),
  chat_template_kwargs: z
    .record(z.string(), z.unknown())
    .nullish()
    .describe('extra variables for the chat template, e.g. {"enable_thinking": false} for Qwen3 (vLLM)'),
  add_generation_prompt: z
    .boolean()
    .nullish()
    .describe("end the prompt with the assistant turn's opening (default true)"),
  continue_final_message: z
    .boolean()
    .nullish()
    .describe(
      'continue the final (assistant) message instead of starting a new one; needs add_generation_prompt false (default false)',
    ),
};

/** Fields of OpenAI's chat API that get a 400 naming them. */
export const UNSUPPORTED_CHAT = [...UNSUPPORTED_COMMON, 'logprobs_format'] as const;

/** `POST /v1/chat/completions` request body (unknown top-level fields are set aside before it parses). */
export const chatCompletionRequestSchema = z
  .object({
    ...samplingFields,
    ...chatPromptFields,
    ...toolFields,
    ...structuredOutputFields,
    max_completion_tokens: z.number().int().min(1).nullish().describe('alias of max_tokens'),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
  })
  .meta({
    id: 'ChatCompletionRequest',
    description:
      'OpenAI chat completion request plus reverie extensions. Unknown top-level fields are ignored (as vLLM) and listed in the X-Reverie-Ignored-Fields response header; ' +
      `these are refused until implemented (400, code unsupported_parameter): ${UNSUPPORTED_CHAT.join(', ')}.`,
  });
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

// ---- responses (documentation and tests; the service builds these shapes) ----

export const topLogprobSchema = z
  .object({ token: z.string(), logprob: z.number(), bytes: z.array(z.number().int()).nullable() })
  .meta({ id: 'TopLogprob' });

export const tokenLogprobSchema = z
  .object({
    token: z.string(),
    logprob: z.number(),
    bytes: z.array(z.number().int()).nullable(),
    top_logprobs: z.array(topLogprobSchema),
  })
  .meta({ id: 'TokenLogprob' });

export const traceStepSchema = z
  .object({
    id: z.number().int().describe('the shadow (argmax) token of the step'),
    token: z.string(),
    top_k: z.array(
      z.object({
        id: z.number().int(),
        token: z.string(),
        p: z.number().describe('weight in softmax(logits / τ), before truncation and noise'),
        fed: z
          .number()
          .describe(
            'weight in the input the step fed next: after truncation, renormalisation and Dirichlet/Gumbel noise; 0 when truncated away',
          ),
      }),
    ),
    entropy: z.number().describe('nats, full distribution at temperature 1'),
  })
  .meta({ id: 'ReasoningTraceStep' });

export const usageSchema = z
  .object({
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int().describe('answer plus reasoning tokens, all choices'),
    total_tokens: z.number().int(),
    completion_tokens_details: z.object({ reasoning_tokens: z.number().int() }),
    prompt_tokens_details: z.object({ cached_tokens: z.number().int() }),
  })
  .meta({ id: 'Usage' });

const finishReason = z
  .enum(['stop', 'length', 'tool_calls'])
  .nullable()
  .describe('`tool_calls`: the answer ended after calling tools');

/** One streamed piece of a call: the first names it (with its id), the next ones extend its arguments. */
export const toolCallDeltaSchema = z
  .object({
    index: z.number().int(),
    id: z.string().optional(),
    type: z.literal('function').optional(),
    function: z.object({ name: z.string().optional(), arguments: z.string().optional() }).optional(),
  })
  .meta({ id: 'ToolCallDelta' });

export const chatCompletionResponseSchema = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        message: z.object({
          role: z.literal('assistant'),
          content: z.string().nullable().describe('null when the answer is only tool calls'),
          reasoning: z
            .string()
            .nullable()
            .describe('the thinking text (vLLM); null without thinking or with include_reasoning false'),
          reasoning_content: z
            .string()
            .nullable()
            .describe('the same text under its older name (SGLang, llama.cpp)'),
          tool_calls: z.array(toolCallSchema).optional(),
        }),
        logprobs: z.object({ content: z.array(tokenLogprobSchema) }).nullable(),
        finish_reason: finishReason,
        reasoning_trace: z.array(traceStepSchema).optional(),
      }),
    ),
    usage: usageSchema,
  })
  .meta({ id: 'ChatCompletion' });

export const chatCompletionChunkSchema = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion.chunk'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        delta: z.object({
          role: z.literal('assistant').optional(),
          content: z.string().optional(),
          reasoning: z.string().optional(),
          reasoning_content: z.string().optional().describe('the same text as reasoning'),
          tool_calls: z.array(toolCallDeltaSchema).optional(),
        }),
        logprobs: z.object({ content: z.array(tokenLogprobSchema) }).nullable(),
        finish_reason: finishReason,
        reasoning_trace: z.array(traceStepSchema).optional(),
      }),
    ),
    usage: usageSchema
      .nullable()
      .optional()
      .describe(
        'stream_options.include_usage: null, then the last chunk (no choices) has it; with continuous_usage_stats every chunk has the usage so far',
      ),
  })
  .meta({
    id: 'ChatCompletionChunk',
    description: 'One SSE `data:` line; the stream ends with `data: [DONE]`.',
  });
