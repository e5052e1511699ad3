import { hermesToolParser } from './hermes.ts';
import { llama3JsonToolParser } from './llama3-json.ts';
import type { ToolCallParser } from './types.ts';

/**
 * Tool-call parsers by vLLM's `--tool-call-parser` names. `llama4_json` is the same format as
 * `llama3_json` in vLLM.
 */
export const TOOL_CALL_PARSERS: Readonly<Record<string, ToolCallParser>> = {
  hermes: hermesToolParser,
  llama3_json: llama3JsonToolParser,
  llama4_json: llama3JsonToolParser,
};

/** The parser of a vLLM name, or undefined. */
export function toolCallParser(name: string): ToolCallParser | undefined {
  return TOOL_CALL_PARSERS[name];
}

/**
 * Which parser a chat template's own tool syntax calls for: Qwen/Hermes templates write
 * `<tool_call>` blocks, Llama 3.1+ templates ask for JSON with "parameters" (and `<|python_tag|>`
 * for built-in tools). Null for a template without tools.
 */
export function detectToolCallParser(chatTemplate: string | null | undefined): string | null {
  if (!chatTemplate || !/\btools\b/.test(chatTemplate)) return null;
  if (chatTemplate.includes('<tool_call>')) return 'hermes';
  if (
    chatTemplate.includes('<|python_tag|>') ||
    (chatTemplate.includes('<|start_header_id|>') && chatTemplate.includes('parameters'))
  )
    return 'llama3_json';
  return null;
}

export {
  ForcedToolCallStream,
  type FunctionTool,
  forcedToolCalls,
  type ToolChoice,
  toolChoiceSchema,
} from './tool-choice.ts';
export type {
  DeltaToolCall,
  ExtractedToolCalls,
  ToolCall,
  ToolCallDelta,
  ToolCallParser,
  ToolCallStream,
} from './types.ts';
