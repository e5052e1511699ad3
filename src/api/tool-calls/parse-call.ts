import { objectEntries, skipWhitespace } from './json-scan.ts';
import { type ToolCall, toolCallId } from './types.ts';

/**
 * A complete call object's text → a ToolCall, or null when it is not one: not a JSON object, no
 * string `name`, or none of `argumentKeys`. The arguments are the raw text of their value.
 */
export function parseCall(json: string, argumentKeys: readonly string[]): ToolCall | null {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const name = (value as Record<string, unknown>).name;
  if (typeof name !== 'string') return null;
  const { entries } = objectEntries(json, skipWhitespace(json, 0));
  const args = entries.find((e) => argumentKeys.includes(e.key));
  if (!args) return null;
  return { id: toolCallId(), type: 'function', function: { name, arguments: args.raw } };
}
