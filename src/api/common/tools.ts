import type { z } from 'zod';
import type { ModelInfo } from '../../engine/types.ts';
import { invalidRequest } from '../errors.ts';
import {
  detectToolCallParser,
  ForcedToolCallStream,
  type ToolCallParser,
  type ToolCallStream,
  type ToolChoice,
  toolCallParser,
  toolChoiceSchema,
} from '../tool-calls/index.ts';
import type { ContentStream } from './output.ts';
import type { RequestedStructuredOutput } from './structured-output.ts';
import type { functionToolSchema } from './tools-schema.ts';

/**
 * What a request's tools become (their fields: tools-schema.ts), shared by the endpoints that
 * take tools (chat completions, the WebSocket, and later the Responses API), as vLLM serves them:
 *
 * - the tools go to the model's chat template (`tools`), whatever `tool_choice` says;
 * - `auto` (the default with tools): the answer's text goes through the model family's parser
 *   (`--tool-call-parser`, by default chosen from the chat template's own tool syntax), which turns
 *   the calls it writes into `tool_calls`;
 * - `required` and a named function: the answer is constrained by a JSON schema built from the
 *   tools (src/api/tool-calls/tool-choice.ts) and read back as the calls;
 * - `none`: the answer is text.
 */

/** The tool fields of a parsed request. */
export interface ToolRequest {
  tools?: readonly z.infer<typeof functionToolSchema>[] | null;
  tool_choice?: ToolChoice | null;
  parallel_tool_calls?: boolean | null;
}

/** What a request's tools ask of the generation. */
export interface ToolPlan {
  /** The constraint a forcing `tool_choice` adds (`required`, named). */
  constraint: RequestedStructuredOutput | null;
  /** Each choice's content stream (calls instead of text); absent: the text as it is. */
  contentStream?: () => ContentStream;
}

/**
 * The parser a model's calls are read with: `configured` (`--tool-call-parser`) by name, `auto`
 * from its chat template's tool syntax, `none` for no parsing.
 */
export function modelToolParser(model: ModelInfo, configured: string): ToolCallParser | null {
  if (configured === 'none') return null;
  const name = configured === 'auto' ? detectToolCallParser(model.chatTemplate?.source) : configured;
  return name === null ? null : (toolCallParser(name) ?? null);
}

/** Keeps the first call only (`parallel_tool_calls: false`). */
function firstCallOnly(stream: ToolCallStream): ContentStream {
  const keep = (delta: ReturnType<ToolCallStream['push']>) => {
    const toolCalls = delta.toolCalls?.filter((c) => c.index === 0);
    return {
      ...(delta.content !== undefined && { content: delta.content }),
      ...(toolCalls?.length && { toolCalls }),
    };
  };
  return { push: (text) => keep(stream.push(text)), finish: () => keep(stream.finish()) };
}

/**
 * How a request's tools shape its generation.
 * @param configuredParser the server's `toolCallParser` setting
 * @throws ApiError 400: a tool_choice without tools, duplicate names, an unknown function, `auto`
 *   on a model with no tool-call parser
 */
export function planTools(body: ToolRequest, model: ModelInfo, configuredParser: string): ToolPlan {
  const tools = body.tools ?? null;
  const choice = body.tool_choice ?? (tools?.length ? 'auto' : 'none');
  if (!tools?.length) {
    // OpenAI and vLLM: `required` with an empty list behaves as `none`.
    if (choice === 'none' || (choice === 'required' && tools)) return { constraint: null };
    throw invalidRequest('tool_choice needs tools: `tools` is missing or empty', 'tool_choice');
  }
  const names = new Set<string>();
  for (const [i, tool] of tools.entries()) {
    if (names.has(tool.function.name))
      throw invalidRequest(`tools name ${tool.function.name} twice`, `tools[${i}].function.name`);
    names.add(tool.function.name);
  }
  const single = body.parallel_tool_calls === false;
  if (choice === 'none') return { constraint: null };
  if (choice === 'auto') {
    const parser = modelToolParser(model, configuredParser);
    if (!parser) {
      throw invalidRequest(
        `tool_choice "auto" needs a tool-call parser, and the chat template of ${model.name} shows no tool-call syntax reverie knows: start the server with --tool-call-parser, or send tool_choice "required", a named function or "none"`,
        'tool_choice',
      );
    }
    return {
      constraint: null,
      contentStream: () => (single ? firstCallOnly(parser.stream()) : parser.stream()),
    };
  }
  const schema = toolChoiceSchema(tools, choice) as Record<string, unknown>;
  if (choice === 'required' && single) schema.maxItems = 1;
  return {
    constraint: { param: 'tool_choice', spec: { type: 'json_schema', schema } },
    contentStream: () => new ForcedToolCallStream(choice),
  };
}
