import { z } from 'zod';

/**
 * Tool calling's request and response fields (zod only, so the browser playground's types can
 * import the schemas that use them); what they do is in tools.ts.
 */

/** A function's definition: under `function` in chat's tools, flat in the Responses API's. */
export const functionDefinitionSchema = z.strictObject({
  name: z.string().min(1).describe('unique among the tools'),
  description: z.string().nullish(),
  parameters: z
    .record(z.string(), z.unknown())
    .nullish()
    .describe('JSON Schema of the arguments (default: an object with no properties)'),
  strict: z.boolean().nullish().describe('accepted; forced calls always follow the schema'),
});

/** An OpenAI function tool. */
export const functionToolSchema = z
  .strictObject({ type: z.literal('function'), function: functionDefinitionSchema })
  .meta({ id: 'FunctionTool' });

/** A call as the assistant made it: in `message.tool_calls`, and in the history sent back. */
export const toolCallSchema = z
  .strictObject({
    id: z.string(),
    type: z.literal('function'),
    function: z.strictObject({
      name: z.string(),
      arguments: z.string().describe('the arguments as JSON text'),
    }),
  })
  .meta({ id: 'ToolCall' });

export const toolChoiceParamSchema = z
  .union([
    z.enum(['none', 'auto', 'required']),
    z.strictObject({ type: z.literal('function'), function: z.strictObject({ name: z.string().min(1) }) }),
  ])
  .meta({
    id: 'ToolChoice',
    description:
      '`auto` (default with tools): calls parsed from the answer; `required` / a named function: forced by constrained decoding; `none`: text only',
  });

/** Tool fields of a request, besides `tools` (which shapes the prompt: chat-completions/schema.ts). */
export const toolFields = {
  tool_choice: toolChoiceParamSchema.nullish(),
  parallel_tool_calls: z
    .boolean()
    .nullish()
    .describe('false: at most one call (the first; `required` allows one)'),
};
