import { AccumulatingStream } from './call-deltas.ts';
import { skipWhitespace, valueExtent } from './json-scan.ts';
import { parseCall } from './parse-call.ts';
import { noToolCalls, type ToolCall, type ToolCallDelta, type ToolCallParser } from './types.ts';

/**
 * Llama 3.1+ (and 4) JSON calls, vLLM's `llama3_json` parser: `{"name": …, "parameters": {…}}`
 * (or `"arguments"`), optionally after `<|python_tag|>`, several separated by `;`. A whole answer
 * is searched for JSON objects anywhere; any `{` that does not start a call makes the whole output
 * content. Streaming treats an answer as calls only when it starts with `{` or `<|python_tag|>`.
 */

const BOT = '<|python_tag|>';
const ARGUMENT_KEYS = ['arguments', 'parameters'];

/** The call objects of a calls-only answer, as far as they have arrived. */
function callObjects(text: string): string[] {
  const objects: string[] = [];
  let i = skipWhitespace(text, text.startsWith(BOT) ? BOT.length : 0);
  while (text[i] === '{') {
    const extent = valueExtent(text, i);
    objects.push(text.slice(i, extent.end));
    if (!extent.complete) break;
    i = skipWhitespace(text, extent.end);
    if (text[i] !== ';') break;
    i = skipWhitespace(text, i + 1);
  }
  return objects;
}

class Llama3JsonStream extends AccumulatingStream {
  #mode: 'undecided' | 'content' | 'calls' = 'undecided';
  #sentContent = 0;

  constructor() {
    super(ARGUMENT_KEYS);
  }

  protected delta(final: boolean): ToolCallDelta {
    const text = this.text;
    if (this.#mode === 'undecided' && text.length > 0) {
      if (text.startsWith('{') || text.startsWith(BOT)) this.#mode = 'calls';
      else if (final || !BOT.startsWith(text)) this.#mode = 'content';
    }
    if (this.#mode === 'content') {
      const content = text.slice(this.#sentContent);
      this.#sentContent = text.length;
      return content ? { content } : {};
    }
    if (this.#mode === 'undecided') return {};
    const toolCalls = this.calls.update(callObjects(text));
    return toolCalls.length > 0 ? { toolCalls } : {};
  }
}

export const llama3JsonToolParser: ToolCallParser = {
  name: 'llama3_json',
  extract(text) {
    if (!text.includes(BOT) && !text.includes('{')) return noToolCalls(text);
    const toolCalls: ToolCall[] = [];
    let end = -1;
    for (let i = text.indexOf('{'); i >= 0; i = text.indexOf('{', i + 1)) {
      if (i < end) continue; // inside the call just parsed
      const extent = valueExtent(text, i);
      const call = extent.complete ? parseCall(text.slice(i, extent.end), ARGUMENT_KEYS) : null;
      if (!call) return noToolCalls(text);
      toolCalls.push(call);
      end = extent.end;
    }
    return toolCalls.length > 0 ? { toolsCalled: true, toolCalls, content: null } : noToolCalls(text);
  },
  stream: () => new Llama3JsonStream(),
};
