/**
 * Just enough JSON scanning to stream tool calls: where a (possibly unfinished) value ends, and the
 * top-level keys of a (possibly unfinished) object with the raw text of their values. Nothing is
 * decoded but key names; values stay the exact text the model wrote, so streamed argument chunks
 * concatenate to the final arguments string.
 */

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/** Index of the first non-whitespace character at or after `i` (text.length when none). */
export function skipWhitespace(text: string, i: number): number {
  while (i < text.length && WHITESPACE.has(text[i]!)) i++;
  return i;
}

/** Where the value starting at `start` ends, and whether the text holds all of it. */
export interface ValueExtent {
  /** Index just past the value (or text.length when unfinished). */
  end: number;
  complete: boolean;
}

/**
 * The extent of the JSON value that starts at `start` (a non-whitespace index): objects and
 * arrays by bracket matching outside strings, strings to their closing quote, other scalars to the
 * next delimiter. A scalar that runs into the end of the text is not known to be complete.
 */
export function valueExtent(text: string, start: number): ValueExtent {
  const first = text[start];
  if (first === '{' || first === '[') {
    let depth = 0;
    let inString = false;
    let escaped = false;
    for (let i = start; i < text.length; i++) {
      const c = text[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) return { end: i + 1, complete: true };
      }
    }
    return { end: text.length, complete: false };
  }
  if (first === '"') {
    for (let i = start + 1; i < text.length; i++) {
      if (text[i] === '\\') i++;
      else if (text[i] === '"') return { end: i + 1, complete: true };
    }
    return { end: text.length, complete: false };
  }
  let i = start;
  while (i < text.length && !WHITESPACE.has(text[i]!) && !',}]'.includes(text[i]!)) i++;
  return { end: i, complete: i < text.length };
}

/** One top-level member of an object: its key and the raw text of its value so far. */
export interface ObjectEntry {
  key: string;
  /** The value's text as written (possibly unfinished). */
  raw: string;
  complete: boolean;
}

/**
 * The top-level members of the object that starts at `start` (a `{`), as far as the text goes: a
 * key is reported once its string is closed, with whatever of its value has arrived. Stops at the
 * first thing that is not JSON.
 */
export function objectEntries(
  text: string,
  start: number,
): { entries: ObjectEntry[]; end: number; closed: boolean } {
  const entries: ObjectEntry[] = [];
  let i = skipWhitespace(text, start + 1);
  for (;;) {
    if (i >= text.length) return { entries, end: i, closed: false };
    if (text[i] === '}') return { entries, end: i + 1, closed: true };
    if (text[i] !== '"') return { entries, end: i, closed: false };
    const keyEnd = valueExtent(text, i);
    if (!keyEnd.complete) return { entries, end: i, closed: false };
    let key: string;
    try {
      key = JSON.parse(text.slice(i, keyEnd.end)) as string;
    } catch {
      return { entries, end: i, closed: false };
    }
    i = skipWhitespace(text, keyEnd.end);
    if (text[i] !== ':') return { entries, end: i, closed: false };
    i = skipWhitespace(text, i + 1);
    if (i >= text.length) return { entries, end: i, closed: false };
    const value = valueExtent(text, i);
    entries.push({ key, raw: text.slice(i, value.end), complete: value.complete });
    if (!value.complete) return { entries, end: value.end, closed: false };
    i = skipWhitespace(text, value.end);
    if (text[i] === ',') i = skipWhitespace(text, i + 1);
  }
}

/** The value of `key` if it is a complete JSON string. */
export function stringEntry(entries: readonly ObjectEntry[], key: string): string | null {
  const entry = entries.find((e) => e.key === key);
  if (!entry?.complete || !entry.raw.startsWith('"')) return null;
  try {
    return JSON.parse(entry.raw) as string;
  } catch {
    return null;
  }
}

/** The length of the longest suffix of `text` that is a proper prefix of `tag` (a tag still arriving). */
export function partialTagOverlap(text: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--)
    if (text.endsWith(tag.slice(0, n))) return n;
  return 0;
}
