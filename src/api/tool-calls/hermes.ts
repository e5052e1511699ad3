import { AccumulatingStream } from './call-deltas.ts';
import { partialTagOverlap } from './json-scan.ts';
import { parseCall } from './parse-call.ts';
import { noToolCalls, type ToolCall, type ToolCallDelta, type ToolCallParser } from './types.ts';

/**
 * Qwen 2.5 / Qwen3 / Hermes 2 Pro: `<tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>`,
 * one block per call (vLLM's `hermes` parser). Text before the first block is the answer's content;
 * a block that is not a call with a string name and `arguments` makes the whole output content.
 */

const START = '<tool_call>';
const END = '</tool_call>';

/**
 * The body of every block: up to its end tag, or to the end of the text for the last one. While
 * streaming, a suffix that may be the end tag still arriving is left out.
 */
function blocks(text: string, streaming: boolean): string[] {
  const out: string[] = [];
  let pos = text.indexOf(START);
  while (pos >= 0) {
    const body = pos + START.length;
    const end = text.indexOf(END, body);
    if (end < 0) {
      const rest = text.slice(body);
      out.push(streaming ? rest.slice(0, rest.length - partialTagOverlap(rest, END)) : rest);
      break;
    }
    out.push(text.slice(body, end));
    pos = text.indexOf(START, end + END.length);
  }
  return out;
}

class HermesStream extends AccumulatingStream {
  #sentContent = 0;

  constructor() {
    super(['arguments']);
  }

  protected delta(final: boolean): ToolCallDelta {
    const text = this.text;
    const start = text.indexOf(START);
    // Content is the text before the first block; a suffix that may be `<tool_call>` waits.
    const sendable = start >= 0 ? start : text.length - (final ? 0 : partialTagOverlap(text, START));
    const out: ToolCallDelta = {};
    if (sendable > this.#sentContent) {
      out.content = text.slice(this.#sentContent, sendable);
      this.#sentContent = sendable;
    }
    const toolCalls = start >= 0 ? this.calls.update(blocks(text, true)) : [];
    if (toolCalls.length > 0) out.toolCalls = toolCalls;
    return out;
  }
}

export const hermesToolParser: ToolCallParser = {
  name: 'hermes',
  extract(text) {
    const first = text.indexOf(START);
    if (first < 0) return noToolCalls(text);
    const toolCalls: ToolCall[] = [];
    for (const body of blocks(text, false)) {
      const call = parseCall(body.trim(), ['arguments']);
      if (!call) return noToolCalls(text);
      toolCalls.push(call);
    }
    return { toolsCalled: true, toolCalls, content: text.slice(0, first) || null };
  },
  stream: () => new HermesStream(),
};
