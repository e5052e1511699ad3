/**
 * What a request constrains its answer to: one plain, structured-clonable value that travels in
 * the request's decoding parameters (`structured_output`) from the API to the engine worker. The
 * API builds it from OpenAI's `response_format`, vLLM's `structured_outputs` and the older
 * `guided_*` fields (src/api/common/structured-output.ts); the worker compiles it once per
 * distinct value (grammar-compiler.ts).
 */

/** A JSON Schema document (`true` accepts any JSON value). */
export type JsonSchema = Record<string, unknown> | boolean;

export type StructuredOutput =
  /**
   * JSON matching a schema (XGrammar's strict mode: no properties or items beyond the schema's).
   * `anyWhitespace: false` (vLLM's `disable_any_whitespace`) allows no whitespace between tokens
   * but the separators `", "` and `": "`: small models otherwise tend to loop on whitespace.
   */
  | { type: 'json_schema'; schema: JsonSchema; anyWhitespace?: boolean }
  /** Any JSON object (OpenAI's JSON mode; vLLM compiles the schema `{"type": "object"}`). */
  | { type: 'json_object'; anyWhitespace?: boolean }
  /** Text matching a regular expression in full (XGrammar's regex dialect, close to ECMAScript). */
  | { type: 'regex'; pattern: string }
  /** Exactly one of these strings. */
  | { type: 'choice'; choices: string[] }
  /** Text of an EBNF grammar (XGrammar's dialect, GBNF-like; `root` is the start rule). */
  | { type: 'grammar'; grammar: string }
  /** An XGrammar structural tag (`{"format": …}`, or the older `{"structures", "triggers"}`). */
  | { type: 'structural_tag'; tag: Record<string, unknown> };

/** A constraint that cannot be compiled; `param` names the request field at fault. */
export class StructuredOutputError extends Error {
  override readonly name = 'StructuredOutputError';
  constructor(
    message: string,
    readonly param = 'structured_output',
  ) {
    super(message);
  }
}

/** Checks the shape of a value that came over a wire (types, empty strings and lists). */
export function checkStructuredOutput(value: unknown): StructuredOutput {
  const fail = (why: string): never => {
    throw new StructuredOutputError(`structured_output ${why}`);
  };
  if (!value || typeof value !== 'object') return fail('must be an object');
  const s = value as Record<string, unknown>;
  const whitespace = () => {
    if (s.anyWhitespace !== undefined && typeof s.anyWhitespace !== 'boolean')
      fail('anyWhitespace must be a boolean');
  };
  switch (s.type) {
    case 'json_schema':
      if (
        typeof s.schema !== 'boolean' &&
        (!s.schema || typeof s.schema !== 'object' || Array.isArray(s.schema))
      )
        fail('schema must be a JSON Schema object or a boolean');
      whitespace();
      break;
    case 'json_object':
      whitespace();
      break;
    case 'regex':
      if (typeof s.pattern !== 'string' || s.pattern.length === 0) fail('pattern must be a non-empty string');
      if ((s.pattern as string).includes('\0')) fail('pattern must not contain a NUL character');
      break;
    case 'choice':
      if (!Array.isArray(s.choices) || s.choices.length === 0) fail('choices must be a non-empty list');
      for (const c of s.choices as unknown[])
        if (typeof c !== 'string' || c.length === 0) fail('choices must be non-empty strings');
      break;
    case 'grammar':
      if (typeof s.grammar !== 'string' || s.grammar.trim().length === 0)
        fail('grammar must be a non-empty string');
      break;
    case 'structural_tag':
      if (!s.tag || typeof s.tag !== 'object' || Array.isArray(s.tag)) fail('tag must be an object');
      break;
    default:
      fail(`type must be one of json_schema, json_object, regex, choice, grammar, structural_tag`);
  }
  return s as StructuredOutput;
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
