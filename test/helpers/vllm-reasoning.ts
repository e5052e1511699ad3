/**
 * What vLLM's reasoning parsers make of a generation, written out from their Python
 * (vllm/reasoning/qwen3_reasoning_parser.py, deepseek_r1_reasoning_parser.py and
 * basic_parsers.py) so tests can hold reverie's split against it: the whole generated text,
 * decoded with skip_special_tokens, goes in; `reasoning` and `content` come out.
 */

export interface Split {
  reasoning: string | null;
  content: string | null;
}

/** Text after the first start marker, or all of it when there is none (both parsers drop a leading `<think>`). */
function afterStart(output: string, start: string): string {
  const at = output.indexOf(start);
  return at >= 0 ? output.slice(at + start.length) : output;
}

/**
 * `Qwen3ReasoningParser.extract_reasoning`: with an end marker, reasoning before it and content
 * after (null when empty); without one, everything is content when thinking was switched off
 * (chat_template_kwargs.enable_thinking false), else everything is reasoning (a truncated thought).
 */
export function qwen3Split(
  output: string,
  thinkingEnabled = true,
  start = '<think>',
  end = '</think>',
): Split {
  const text = afterStart(output, start);
  const at = text.indexOf(end);
  if (at >= 0) return { reasoning: text.slice(0, at), content: text.slice(at + end.length) || null };
  return thinkingEnabled ? { reasoning: text, content: null } : { reasoning: null, content: text };
}

/** `DeepSeekR1ReasoningParser` (the base class's `extract_reasoning`): no end marker, all reasoning. */
export function deepseekR1Split(output: string, start = '<think>', end = '</think>'): Split {
  const text = afterStart(output, start);
  const at = text.indexOf(end);
  if (at < 0) return { reasoning: text, content: null };
  return { reasoning: text.slice(0, at), content: text.slice(at + end.length) || null };
}

/**
 * `count_reasoning_tokens`: tokens strictly inside think blocks (markers excluded); a prompt that
 * opened the block starts inside one.
 */
export function countReasoningTokens(
  ids: readonly number[],
  startId: number,
  endId: number,
  startsInside: boolean,
): number {
  let depth = startsInside ? 1 : 0;
  let count = 0;
  for (const id of ids) {
    if (id === startId) depth++;
    else if (id === endId) depth = Math.max(0, depth - 1);
    else if (depth > 0) count++;
  }
  return count;
}
