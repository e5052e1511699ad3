import type { JsonSchema } from '../../decoding/structured/spec.ts';
import { invalidRequest } from '../errors.ts';
import { CallDeltas } from './call-deltas.ts';
import { skipWhitespace, valueExtent } from './json-scan.ts';
import { parseCall } from './parse-call.ts';
import { type ToolCall, type ToolCallDelta, type ToolCallStream, toolCallId } from './types.ts';

/**
 * `tool_choice: "required"` and a named function, enforced as vLLM does: the answer is constrained
 * by a JSON schema built from the tools (structured outputs), and the constrained answer — not the
 * model family's call syntax — becomes the tool calls:
 *
 * - named `{"type": "function", "function": {"name": f}}`: the answer is f's arguments, matching
 *   f's `parameters` schema;
 * - `"required"`: the answer is a non-empty array `[{"name": …, "parameters": {…}}, …]`, each item
 *   one of the tools (`anyOf`), with the tools' `$defs` lifted to the top.
 *
 * `auto` and `none` constrain nothing (`auto` parses the family's syntax; `none` asks for none).
 */

/** An OpenAI function tool. */
export interface FunctionTool {
  type: 'function';
  function: {
    name: string;
    description?: string | null;
    parameters?: Record<string, unknown> | null;
    strict?: boolean | null;
  };
}

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

const EMPTY_PARAMETERS = { type: 'object', properties: {} };

/** The name a named choice forces, or null. */
export function forcedName(choice: ToolChoice | null | undefined): string | null {
  return choice && typeof choice === 'object' ? choice.function.name : null;
}

/**
 * The schema that enforces `tool_choice`, or null when it enforces nothing.
 * @throws ApiError 400: a forcing choice without tools, an unknown function, conflicting `$defs`
 * @example toolChoiceSchema(tools, { type: 'function', function: { name: 'get_weather' } })
 */
export function toolChoiceSchema(
  tools: readonly FunctionTool[] | null | undefined,
  choice: ToolChoice | null | undefined,
): JsonSchema | null {
  if (!choice || choice === 'none' || choice === 'auto') return null;
  if (!tools || tools.length === 0)
    throw invalidRequest('tool_choice needs tools: `tools` is empty', 'tool_choice');
  const name = forcedName(choice);
  if (name !== null) {
    const tool = tools.find((t) => t.function.name === name);
    if (!tool)
      throw invalidRequest(`tool_choice names ${name}, which is not in tools`, 'tool_choice.function.name');
    return structuredClone(tool.function.parameters ?? EMPTY_PARAMETERS);
  }
  const defs: Record<string, unknown> = {};
  const items = tools.map((tool) => {
    const parameters = structuredClone(tool.function.parameters ?? EMPTY_PARAMETERS) as Record<
      string,
      unknown
    >;
    const own = (parameters.$defs ?? {}) as Record<string, unknown>;
    delete parameters.$defs;
    for (const [key, def] of Object.entries(own)) {
      if (key in defs && JSON.stringify(defs[key]) !== JSON.stringify(def)) {
        throw invalidRequest(`tools define $defs.${key} twice, differently: not supported`, 'tools');
      }
      defs[key] = def;
    }
    return {
      properties: { name: { type: 'string', enum: [tool.function.name] }, parameters },
      required: ['name', 'parameters'],
    };
  });
  return {
    type: 'array',
    minItems: 1,
    items: { type: 'object', anyOf: items },
    ...(Object.keys(defs).length > 0 && { $defs: defs }),
  };
}

/** The calls of a whole answer made under a forcing `tool_choice` (the answer matched its schema). */
export function forcedToolCalls(text: string, choice: ToolChoice): ToolCall[] {
  const name = forcedName(choice);
  if (name !== null) return [{ id: toolCallId(), type: 'function', function: { name, arguments: text } }];
  const calls: ToolCall[] = [];
  for (const item of arrayItems(text)) {
    const call = parseCall(item, ['parameters']);
    if (call) calls.push(call);
  }
  return calls;
}

/** The items of a (possibly unfinished) JSON array, as far as they have arrived. */
function arrayItems(text: string): string[] {
  const items: string[] = [];
  let i = skipWhitespace(text, 0);
  if (text[i] !== '[') return items;
  i = skipWhitespace(text, i + 1);
  while (i < text.length && text[i] !== ']') {
    const extent = valueExtent(text, i);
    items.push(text.slice(i, extent.end));
    if (!extent.complete) break;
    i = skipWhitespace(text, extent.end);
    if (text[i] === ',') i = skipWhitespace(text, i + 1);
  }
  return items;
}

/** Streams the calls of an answer made under a forcing `tool_choice`. */
export class ForcedToolCallStream implements ToolCallStream {
  readonly #name: string | null;
  #text = '';
  #named = false;
  readonly #calls = new CallDeltas(['parameters']);

  constructor(choice: ToolChoice) {
    this.#name = forcedName(choice);
  }

  get callCount(): number {
    return this.#name !== null ? (this.#named ? 1 : 0) : this.#calls.count;
  }

  push(text: string): ToolCallDelta {
    if (this.#name !== null) {
      // The answer is the arguments: the first piece names the call, every piece extends them.
      if (!text && this.#named) return {};
      const first = !this.#named;
      this.#named = true;
      return {
        toolCalls: [
          first
            ? {
                index: 0,
                id: toolCallId(),
                type: 'function',
                function: { name: this.#name, arguments: text },
              }
            : { index: 0, function: { arguments: text } },
        ],
      };
    }
    this.#text += text;
    const toolCalls = this.#calls.update(arrayItems(this.#text));
    return toolCalls.length > 0 ? { toolCalls } : {};
  }

  finish(): ToolCallDelta {
    return {};
  }
}
