import { randomUUID } from 'node:crypto';

/**
 * Tool calls as OpenAI's chat API returns them, and the parser interface every model family's
 * parser implements (vLLM's ToolParser: a whole-text `extract` and an incremental stream).
 */

/** A finished call: `message.tool_calls[i]`. `arguments` is the JSON text the model wrote. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/**
 * One streamed piece of a call: `delta.tool_calls[i]`. The first piece of a call carries its
 * `index`, `id`, `type` and `function.name`; the next ones `index` and `function.arguments`
 * chunks that concatenate to the arguments.
 */
export interface DeltaToolCall {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

/** What a whole answer holds. */
export interface ExtractedToolCalls {
  toolsCalled: boolean;
  toolCalls: ToolCall[];
  /** Text outside the calls (null when there is none), as vLLM's parsers keep it. */
  content: string | null;
}

/** What one pushed piece of text adds: answer text to show, tool-call pieces, or nothing. */
export interface ToolCallDelta {
  content?: string;
  toolCalls?: DeltaToolCall[];
}

/** One choice's streaming parser; push the answer's text deltas in order, then finish. */
export interface ToolCallStream {
  push(text: string): ToolCallDelta;
  /** Flushes text held back for a tag that never came. */
  finish(): ToolCallDelta;
  /** Calls whose name has been streamed (a finished answer with any: finish_reason "tool_calls"). */
  readonly callCount: number;
}

/** A model family's tool-call format. */
export interface ToolCallParser {
  /** vLLM's `--tool-call-parser` name. */
  readonly name: string;
  extract(text: string): ExtractedToolCalls;
  stream(): ToolCallStream;
}

/** A call id as vLLM makes them: `chatcmpl-tool-` and 32 hex digits. */
export function toolCallId(): string {
  return `chatcmpl-tool-${randomUUID().replaceAll('-', '')}`;
}

/** Nothing found: the whole text is the answer. */
export function noToolCalls(text: string): ExtractedToolCalls {
  return { toolsCalled: false, toolCalls: [], content: text };
}
