import { z } from 'zod';
import { decodingFields, REASONING_EFFORTS } from '../../decoding/params-schema.ts';
import { mediaPartSchema } from '../chat-completions/schema.ts';
import { structuredOutputsSchema } from '../common/structured-output.ts';
import { functionDefinitionSchema } from '../common/tools-schema.ts';

/**
 * `POST /v1/responses`: OpenAI's Responses API over the same engine, as vLLM serves it. Requests
 * are stateless (nothing is stored, so `previous_response_id` is refused); function tools and
 * `text.format` are served as chat's tools and `response_format` are.
 */

const text = z.string();

/** Text parts of an input message: what the user typed, or an earlier answer sent back. */
const inputTextPart = z.object({ type: z.literal('input_text'), text }).meta({ id: 'ResponseInputText' });
const outputTextPart = z
  .object({
    type: z.literal('output_text'),
    text,
    annotations: z.array(z.unknown()).max(0).optional().describe('reverie makes none: empty when sent back'),
    logprobs: z.array(z.unknown()).optional().describe('ignored when sent back'),
  })
  .meta({ id: 'ResponseOutputTextPart' });
/** Media parts: recognised so that the 400 can name them (text-only models). */
const inputMediaPart = z
  .looseObject({ type: z.enum(['input_image', 'input_file', 'input_audio']) })
  .meta({ id: 'ResponseInputMedia' });

export const responseMessageItemSchema = z
  .object({
    type: z.literal('message').optional(),
    id: z.string().optional().describe('an earlier output item id, sent back (not used)'),
    status: z.enum(['in_progress', 'completed', 'incomplete']).optional(),
    role: z.enum(['user', 'system', 'developer', 'assistant']),
    content: z.union([
      text,
      z.array(z.union([inputTextPart, outputTextPart, inputMediaPart, mediaPartSchema])),
    ]),
  })
  .meta({ id: 'ResponseInputMessage' });

export const responseReasoningItemSchema = z
  .object({
    type: z.literal('reasoning'),
    id: z.string().optional(),
    status: z.enum(['in_progress', 'completed', 'incomplete']).nullish(),
    summary: z.array(z.object({ type: z.literal('summary_text'), text })).optional(),
    content: z
      .array(z.object({ type: z.literal('reasoning_text'), text }))
      .nullish()
      .describe(
        "the reasoning of the assistant message that follows: passed to the chat template as that turn's reasoning",
      ),
    encrypted_content: z.null().optional(),
  })
  .meta({ id: 'ResponseInputReasoning' });

export const responseFunctionCallItemSchema = z
  .object({
    type: z.literal('function_call'),
    id: z.string().optional().describe('an earlier output item id, sent back (not used)'),
    status: z.enum(['in_progress', 'completed', 'incomplete']).nullish(),
    call_id: z.string().min(1).describe('the id its function_call_output answers with'),
    name: z.string().min(1),
    arguments: z.string().describe('the arguments as JSON text'),
  })
  .meta({
    id: 'ResponseInputFunctionCall',
    description:
      'a call the model made, sent back: a tool call of the assistant turn (consecutive calls and the message before them are one turn)',
  });

export const responseFunctionCallOutputItemSchema = z
  .object({
    type: z.literal('function_call_output'),
    id: z.string().optional(),
    status: z.enum(['in_progress', 'completed', 'incomplete']).nullish(),
    call_id: z.string().min(1).describe('the call this result answers'),
    output: z
      .union([text, z.array(z.union([inputTextPart, inputMediaPart]))])
      .describe('the result: text, or input_text parts (joined with "\\n")'),
  })
  .meta({ id: 'ResponseInputFunctionCallOutput', description: "a tool's result: a tool message" });

/** Items reverie knows and cannot take: a 400 naming the item. */
const otherItemSchema = z.looseObject({
  type: z.enum([
    'item_reference',
    'file_search_call',
    'web_search_call',
    'computer_call',
    'computer_call_output',
    'image_generation_call',
    'code_interpreter_call',
    'local_shell_call',
    'local_shell_call_output',
    'mcp_call',
    'mcp_list_tools',
    'mcp_approval_request',
    'mcp_approval_response',
    'custom_tool_call',
    'custom_tool_call_output',
  ]),
});

export const responseInputItemSchema = z.union([
  responseMessageItemSchema,
  responseReasoningItemSchema,
  responseFunctionCallItemSchema,
  responseFunctionCallOutputItemSchema,
  otherItemSchema,
]);
export type ResponseInputItem = z.infer<typeof responseInputItemSchema>;

/** A function tool, flat as the Responses API sends it (chat nests it under `function`). */
export const responseFunctionToolSchema = functionDefinitionSchema
  .extend({ type: z.literal('function') })
  .meta({ id: 'ResponseFunctionTool' });

/** OpenAI's hosted and custom tools: recognised so that the 400 names them (reverie runs none). */
export const HOSTED_TOOL_TYPES = [
  'file_search',
  'web_search',
  'web_search_2025_08_26',
  'web_search_preview',
  'web_search_preview_2025_03_11',
  'computer',
  'computer_use_preview',
  'mcp',
  'code_interpreter',
  'image_generation',
  'local_shell',
  'shell',
  'custom',
  'apply_patch',
  'namespace',
  'tool_search',
] as const;
const hostedToolSchema = z.looseObject({ type: z.enum(HOSTED_TOOL_TYPES) });

export const responseToolChoiceSchema = z
  .union([
    z.enum(['none', 'auto', 'required']),
    z.strictObject({ type: z.literal('function'), name: z.string().min(1) }),
  ])
  .meta({
    id: 'ResponseToolChoice',
    description:
      '`auto` (default with tools): calls parsed from the answer; `required` / a named function: forced by constrained decoding; `none`: text only',
  });

export const textFormatSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('text') }),
    z.strictObject({ type: z.literal('json_object') }),
    z.strictObject({
      type: z.literal('json_schema'),
      name: z.string().describe('OpenAI requires it; the grammar does not use it'),
      schema: z.record(z.string(), z.unknown()).describe('the JSON Schema the answer follows'),
      description: z.string().nullish(),
      strict: z.boolean().nullish().describe('accepted; the schema is always enforced'),
    }),
  ])
  .meta({ id: 'ResponseTextFormat', description: "the answer's format (`text.format`), after thinking" });
export type TextFormat = z.infer<typeof textFormatSchema>;

/** Responses request fields reverie refuses until implemented (400, code unsupported_parameter). */
export const UNSUPPORTED_RESPONSES = [
  'previous_response_id',
  'conversation',
  'background',
  'prompt',
  'top_logprobs',
  'n',
  'superposition',
  'max_tool_calls',
] as const;

export const responseCreateRequestSchema = z
  .object({
    model: z.string().min(1).describe('a model id from GET /v1/models'),
    input: z
      .union([text, z.array(responseInputItemSchema).min(1)])
      .describe('a user message, or message and reasoning items (earlier outputs may be sent back)'),
    instructions: z.string().nullish().describe('a system message put before the input'),
    max_output_tokens: decodingFields.max_tokens.describe(
      'generated tokens, reasoning included; default: what the prompt leaves of the model length (capped by the checkpoint default)',
    ),
    temperature: decodingFields.temperature,
    top_p: decodingFields.top_p,
    top_k: decodingFields.top_k,
    min_p: decodingFields.min_p,
    repetition_penalty: decodingFields.repetition_penalty,
    seed: decodingFields.seed,
    stream: z.boolean().nullish(),
    stream_options: z
      .strictObject({
        include_obfuscation: z.boolean().nullish().describe('accepted; reverie adds no padding'),
      })
      .nullish(),
    reasoning: z
      .strictObject({
        effort: z.enum(REASONING_EFFORTS).nullish().describe('thinking budget, as reasoning_effort in chat'),
        summary: z
          .enum(['auto', 'concise', 'detailed'])
          .nullish()
          .describe(
            'accepted and ignored (listed in X-Reverie-Ignored-Fields): the reasoning item carries the full text',
          ),
        generate_summary: z
          .enum(['auto', 'concise', 'detailed'])
          .nullish()
          .describe('deprecated alias of summary'),
      })
      .nullish(),
    thinking: decodingFields.thinking,
    chat_template_kwargs: z
      .record(z.string(), z.unknown())
      .nullish()
      .describe('extra variables for the chat template (vLLM), e.g. {"enable_thinking": false}'),
    tools: z
      .array(z.discriminatedUnion('type', [responseFunctionToolSchema, hostedToolSchema]))
      .nullish()
      .describe(
        'function tools, passed to the chat template as chat tools are; other tool types are a 400 naming them',
      ),
    tool_choice: responseToolChoiceSchema.nullish(),
    parallel_tool_calls: z
      .boolean()
      .nullish()
      .describe('false: at most one call (the first; `required` allows one)'),
    text: z
      .strictObject({
        format: textFormatSchema.nullish(),
        verbosity: z.enum(['low', 'medium', 'high']).nullish().describe('accepted and ignored'),
      })
      .nullish()
      .describe("the answer's format: text, or JSON by constrained decoding (after thinking)"),
    structured_outputs: structuredOutputsSchema
      .nullish()
      .describe(
        "vLLM's structured outputs: a constraint instead of a JSON text.format (both: 400), or options (disable_any_whitespace, …) for text.format's or a forced call's schema",
      ),
    truncation: z.literal('disabled').nullish().describe('only disabled: a prompt too long is a 400'),
    store: z
      .boolean()
      .nullish()
      .describe(
        'nothing is stored: the response says store false (true is listed in X-Reverie-Ignored-Fields)',
      ),
    include: z
      .array(z.string())
      .nullish()
      .describe('accepted; reverie adds nothing it lists (echoed in the ignored-fields header)'),
    metadata: z.record(z.string(), z.string()).nullish().describe('echoed back on the response'),
    user: z.string().nullish(),
  })
  .meta({
    id: 'ResponseCreateRequest',
    description:
      'OpenAI Responses API request (stateless). Unknown top-level fields are ignored and listed in the X-Reverie-Ignored-Fields response header; ' +
      `these are refused (400, code unsupported_parameter): ${UNSUPPORTED_RESPONSES.join(', ')}; tools other than functions too.`,
  });
export type ResponseCreateRequest = z.infer<typeof responseCreateRequestSchema>;

// ---- responses (documentation and tests; output.ts builds these shapes) ----

export const responseUsageSchema = z
  .object({
    input_tokens: z.number().int(),
    input_tokens_details: z.object({ cached_tokens: z.number().int() }),
    output_tokens: z.number().int().describe('reasoning included'),
    output_tokens_details: z.object({ reasoning_tokens: z.number().int() }),
    total_tokens: z.number().int(),
  })
  .meta({ id: 'ResponseUsage' });

const itemStatus = z.enum(['in_progress', 'completed', 'incomplete']);

export const responseReasoningOutputSchema = z
  .object({
    type: z.literal('reasoning'),
    id: z.string(),
    summary: z.array(z.unknown()).describe('always empty: no summaries'),
    content: z.array(z.object({ type: z.literal('reasoning_text'), text })),
    status: itemStatus,
  })
  .meta({ id: 'ResponseReasoningItem' });

export const responseMessageOutputSchema = z
  .object({
    type: z.literal('message'),
    id: z.string(),
    status: itemStatus,
    role: z.literal('assistant'),
    content: z.array(
      z.object({
        type: z.literal('output_text'),
        text,
        annotations: z.array(z.unknown()),
        logprobs: z.array(z.unknown()),
      }),
    ),
  })
  .meta({ id: 'ResponseOutputMessage' });

export const responseFunctionCallOutputSchema = z
  .object({
    type: z.literal('function_call'),
    id: z.string().describe('fc_…'),
    call_id: z.string().describe("the call's id (chatcmpl-tool-…), which a function_call_output answers"),
    name: z.string(),
    arguments: z.string().describe('the arguments as the model wrote them (JSON text)'),
    status: itemStatus,
  })
  .meta({ id: 'ResponseFunctionCallItem' });

export const responseObjectSchema = z
  .object({
    id: z.string(),
    object: z.literal('response'),
    created_at: z.number().int(),
    status: z.enum(['in_progress', 'completed', 'incomplete']),
    incomplete_details: z.object({ reason: z.literal('max_output_tokens') }).nullable(),
    error: z.null(),
    model: z.string(),
    instructions: z.string().nullable(),
    max_output_tokens: z.number().int().nullable(),
    output: z
      .array(
        z.union([
          responseReasoningOutputSchema,
          responseMessageOutputSchema,
          responseFunctionCallOutputSchema,
        ]),
      )
      .describe(
        'a reasoning item when the model thought, the message when it wrote text (or called nothing), then its function calls',
      ),
    output_text: z.string().optional(),
    parallel_tool_calls: z.boolean(),
    previous_response_id: z.null(),
    reasoning: z.object({ effort: z.enum(REASONING_EFFORTS).nullable(), summary: z.null() }),
    store: z.literal(false),
    temperature: z.number().nullable(),
    top_p: z.number().nullable(),
    text: z.object({ format: textFormatSchema }).describe('as requested (default text)'),
    tool_choice: responseToolChoiceSchema.describe('as requested (default auto)'),
    tools: z.array(responseFunctionToolSchema).describe('as requested'),
    structured_outputs: structuredOutputsSchema
      .nullish()
      .describe(
        "vLLM's structured outputs: a constraint instead of a JSON text.format (both: 400), or options (disable_any_whitespace, …) for text.format's or a forced call's schema",
      ),
    truncation: z.literal('disabled'),
    usage: responseUsageSchema.nullable(),
    user: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
  })
  .meta({
    id: 'Response',
    description:
      'The response object; streamed as events (`event:` lines named by `type`): response.created, response.in_progress, per output item output_item.added, content_part.added, reasoning_text.delta / output_text.delta, reasoning_text.done / output_text.done, content_part.done, output_item.done, then response.completed (or response.incomplete at max_output_tokens); each event has a sequence_number.',
  });

export const responseStreamEventSchema = z
  .looseObject({
    type: z
      .string()
      .describe(
        'response.created, response.in_progress, response.output_item.added, response.content_part.added, response.reasoning_text.delta, response.reasoning_text.done, response.output_text.delta, response.output_text.done, response.content_part.done, response.function_call_arguments.delta, response.function_call_arguments.done, response.output_item.done, response.completed, response.incomplete, error',
      ),
    sequence_number: z.number().int().describe('0, 1, 2, … in the order sent'),
  })
  .meta({
    id: 'ResponseStreamEvent',
    description:
      "One SSE event (`event: <type>` then `data: {json}`), shaped as OpenAI's: lifecycle events carry `response`, item events `output_index` and `item`, part and text events `item_id`, `output_index`, `content_index` and `part` / `delta` / `text`, function-call events `item_id`, `output_index` and `delta` / `arguments` (and `name`); a failure after the first event is an `error` event (`code`, `message`, `param`). No `[DONE]`.",
  });
