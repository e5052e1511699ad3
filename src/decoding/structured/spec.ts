import { z } from 'zod';
import { CodedError } from '../../errors.ts';

/**
 * What a request constrains its answer to: one plain, structured-clonable value that travels in
 * the request's decoding parameters (`structured_output`) from the API to the engine worker. The
 * API builds it from OpenAI's `response_format`, vLLM's `structured_outputs` and the older
 * `guided_*` fields (src/api/common/structured-output.ts); the worker compiles it once per
 * distinct value (grammar-compiler.ts).
 */

const nonEmpty = (what: string) => z.string(what).min(1, what);
const whitespace = z.boolean('anyWhitespace must be a boolean').optional();
const jsonObject = (what: string) => z.record(z.string(), z.unknown(), what);

/** The shapes a constraint may take; the type is derived from it. */
export const structuredOutputSchema = z.discriminatedUnion(
  'type',
  [
    /**
     * JSON matching a schema (XGrammar's strict mode: no properties or items beyond the schema's).
     * `anyWhitespace: false` (vLLM's `disable_any_whitespace`) allows no whitespace between tokens
     * but the separators `", "` and `": "`: small models otherwise tend to loop on whitespace.
     */
    z.object({
      type: z.literal('json_schema'),
      schema: z.union(
        [jsonObject('schema must be a JSON Schema object or a boolean'), z.boolean()],
        'schema must be a JSON Schema object or a boolean',
      ),
      anyWhitespace: whitespace,
    }),
    /** Any JSON object (OpenAI's JSON mode; vLLM compiles the schema `{"type": "object"}`). */
    z.object({ type: z.literal('json_object'), anyWhitespace: whitespace }),
    /** Text matching a regular expression in full (XGrammar's regex dialect, close to ECMAScript). */
    z.object({
      type: z.literal('regex'),
      pattern: nonEmpty('pattern must be a non-empty string').refine(
        (p) => !p.includes('\0'),
        'pattern must not contain a NUL character',
      ),
    }),
    /** Exactly one of these strings. */
    z.object({
      type: z.literal('choice'),
      choices: z
        .array(nonEmpty('choices must be non-empty strings'), 'choices must be a non-empty list')
        .min(1, 'choices must be a non-empty list'),
    }),
    /** Text of an EBNF grammar (XGrammar's dialect, GBNF-like; `root` is the start rule). */
    z.object({
      type: z.literal('grammar'),
      grammar: z
        .string('grammar must be a non-empty string')
        .refine((g) => g.trim().length > 0, 'grammar must be a non-empty string'),
    }),
    /** An XGrammar structural tag (`{"format": …}`, or the older `{"structures", "triggers"}`). */
    z.object({ type: z.literal('structural_tag'), tag: jsonObject('tag must be an object') }),
  ],
  'type must be one of json_schema, json_object, regex, choice, grammar, structural_tag',
);

/** A JSON Schema document (`true` accepts any JSON value). */
export type JsonSchema = Record<string, unknown> | boolean;

export type StructuredOutput = z.infer<typeof structuredOutputSchema>;

/** A constraint that cannot be compiled; `param` names the request field at fault. */
export class StructuredOutputError extends CodedError {
  override readonly name = 'StructuredOutputError';
  declare readonly param: string;
  constructor(message: string, param = 'structured_output') {
    super('invalid_value', message, param);
  }
}

/** Checks the shape of a value that came over a wire (types, empty strings and lists). */
export function checkStructuredOutput(value: unknown): StructuredOutput {
  const parsed = structuredOutputSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new StructuredOutputError(`structured_output ${parsed.error.issues[0]!.message}`);
}

/** JSON with object keys sorted, so equal constraints share one cache entry whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The cache key of a constraint. */
export function structuredOutputKey(spec: StructuredOutput): string {
  return canonical(spec);
}

/** An EBNF string literal: quotes, backslashes and control characters escaped. */
function ebnfString(s: string): string {
  const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '"': '\\"', '\\': '\\\\' };
  let out = '"';
  for (const ch of s) {
    const code = ch.charCodeAt(0);
    out += named[ch] ?? (code < 0x20 ? `\\x${code.toString(16).padStart(2, '0')}` : ch);
  }
  return `${out}"`;
}

/**
 * The grammar of a choice, as vLLM writes it: `root ::= "a" | "b"`.
 * @example choiceGrammar(['yes', 'no']) // 'root ::= "yes" | "no"'
 */
export function choiceGrammar(choices: readonly string[]): string {
  return `root ::= ${choices.map(ebnfString).join(' | ')}`;
}
