/**
 * Whether a served answer is the expected one. The answer is the text after thinking (the
 * message `content`), compared as users read it: surrounding whitespace, quotes and a final
 * period do not matter, nor letter case or runs of spaces; numbers compare by value, so `1,093`
 * and `1093.0` are `1093`. Nothing else is forgiven: `The answer is 1093` is not `1093`.
 */

const NUMBER = /^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$/;

/** The comparable form of an answer. */
export function normaliseAnswer(text: string): string {
  let s = text.trim().replace(/\s+/g, ' ');
  if (s.endsWith('.')) s = s.slice(0, -1).trimEnd();
  s = s.replace(/^["'`]+|["'`]+$/g, '').trim();
  if (s.endsWith('.')) s = s.slice(0, -1).trimEnd();
  if (NUMBER.test(s)) {
    const value = Number(s.replace(/,/g, ''));
    if (Number.isFinite(value)) return String(value);
  }
  return s.toLowerCase();
}

/**
 * @example isCorrectAnswer('1093', ' 1,093.\n') // true
 * @example isCorrectAnswer('c', 'C') // true
 * @example isCorrectAnswer('1093', 'The answer is 1093') // false
 */
export function isCorrectAnswer(expected: string, got: string): boolean {
  return normaliseAnswer(expected) === normaliseAnswer(got);
}
