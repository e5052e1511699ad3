import { z } from 'zod';
import type { JsonSchema, StructuredOutput } from '../../decoding/structured/spec.ts';
import { invalidRequest, unsupportedParameter } from '../errors.ts';

/**
 * The request fields that ask for structured outputs, and the one StructuredOutput they become
 * (the engine's `structured_output` decoding parameter). Three spellings exist, as in vLLM:
 *
 * - OpenAI's `response_format`: `text`, `json_object`, `json_schema` ({name, schema, strict}),
 *   and vLLM's `structural_tag`;
 * - vLLM's `structured_outputs`: exactly one of `json`, `regex`, `choice`, `grammar`,
 *   `json_object`, `structural_tag`, plus `disable_any_whitespace` and
 *   `disable_additional_properties`;
 * - vLLM's older `guided_json`, `guided_regex`, `guided_choice`, `guided_grammar` (and
 *   `guided_decoding_backend`, `guided_whitespace_pattern`).
 *
 * More than one kind of constraint in a request is a 400, as in vLLM. Spread
 * {@link structuredOutputFields} into a request schema, call {@link structuredOutputFromRequest}
 * on the parsed body; endpoints await `resolveStructuredOutput` (resolve-structured-output.ts),
 * which also validates, so a grammar XGrammar refuses is a 400 before any byte is sent.
 */

const jsonObject = z.record(z.string(), z.unknown());

export const jsonSchemaFormatSchema = z
  .object({
    name: z.string().optional().describe('OpenAI requires it; the grammar does not use it'),
    description: z.string().nullish(),
    schema: z.union([jsonObject, z.boolean()]).optional().describe('the JSON Schema the answer follows'),
    strict: z.boolean().nullish().describe('accepted; the schema is always enforced'),
  })
  .meta({ id: 'JsonSchemaFormat' });

export const responseFormatSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('text') }),
    z.strictObject({ type: z.literal('json_object') }),
    z.strictObject({ type: z.literal('json_schema'), json_schema: jsonSchemaFormatSchema }),
    z.looseObject({ type: z.literal('structural_tag') }).describe("XGrammar's structural tag (vLLM)"),
  ])
  .meta({ id: 'ResponseFormat', description: "OpenAI's response_format (answer only, after thinking)." });

export const structuredOutputsSchema = z
  .strictObject({
    json: z
      .union([jsonObject, z.boolean(), z.string()])
      .nullish()
      .describe('a JSON Schema (object or its JSON text)'),
    regex: z.string().nullish(),
    choice: z.array(z.string()).nullish(),
    grammar: z.string().nullish().describe("EBNF in XGrammar's dialect (GBNF-like; start rule `root`)"),
    json_object: z.boolean().nullish(),
    structural_tag: z.union([z.string(), jsonObject]).nullish(),
    disable_any_whitespace: z.boolean().nullish(),
    disable_additional_properties: z.boolean().nullish(),
    whitespace_pattern: z.string().nullish().describe('not supported (XGrammar has no custom whitespace)'),
  })
  .meta({ id: 'StructuredOutputs', description: "vLLM's structured-output parameters." });

/** Fields to spread into a request schema. */
export const structuredOutputFields = {
  response_format: responseFormatSchema.nullish(),
  structured_outputs: structuredOutputsSchema.nullish(),
  guided_json: z
    .union([jsonObject, z.boolean(), z.string()])
    .nullish()
    .describe('older vLLM spelling of structured_outputs.json'),
  guided_regex: z.string().nullish(),
  guided_choice: z.array(z.string()).nullish(),
  guided_grammar: z.string().nullish(),
  guided_whitespace_pattern: z.string().nullish(),
  guided_decoding_backend: z.string().nullish().describe('only xgrammar (or auto) is available'),
};

export type StructuredOutputFields = {
  [K in keyof typeof structuredOutputFields]?: z.infer<(typeof structuredOutputFields)[K]>;
};

/** A JSON value given as its text (vLLM accepts schemas and structural tags as strings). */
function parseJsonText(text: string, param: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw invalidRequest(`${param} is not valid JSON`, param);
  }
}

function schemaOf(value: unknown, param: string): JsonSchema {
  const schema = typeof value === 'string' ? parseJsonText(value, param) : value;
  if (typeof schema === 'boolean' || (schema && typeof schema === 'object' && !Array.isArray(schema)))
    return schema as JsonSchema;
  throw invalidRequest(`${param} must be a JSON Schema object`, param);
}

/** Adds `additionalProperties: false` to every object schema that does not forbid them already. */
export function withoutAdditionalProperties(schema: JsonSchema): JsonSchema {
  if (typeof schema !== 'object' || schema === null) return schema;
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = walk(v);
    if (out.type === 'object' || 'properties' in out) out.additionalProperties = false;
    return out;
  };
  return walk(schema) as JsonSchema;
}

/** A request's constraint and the field that asked for it (the `param` of its 400s). */
export interface RequestedStructuredOutput {
  spec: StructuredOutput;
  param: string;
}

/**
 * The request's constraint, or null when it asks for none.
 * @throws ApiError 400 for two kinds at once, unsupported options, or malformed values
 * @example structuredOutputFromRequest({ response_format: { type: 'json_object' } }) // { type: 'json_object' }
 */
export function structuredOutputFromRequest(body: StructuredOutputFields): StructuredOutput | null {
  return requestedStructuredOutput(body)?.spec ?? null;
}

/**
 * {@link structuredOutputFromRequest} with the field it came from.
 * @param hasOptionsTarget the endpoint adds a constraint that structured_outputs' options may apply to
 */
export function requestedStructuredOutput(
  body: StructuredOutputFields,
  hasOptionsTarget = false,
): RequestedStructuredOutput | null {
  const found: [string, StructuredOutput][] = [];
  const so = body.structured_outputs ?? null;
  const anyWhitespace = so?.disable_any_whitespace ? false : undefined;
  const json = (value: unknown, param: string): StructuredOutput => {
    let schema = schemaOf(value, param);
    if (so?.disable_additional_properties) schema = withoutAdditionalProperties(schema);
    return { type: 'json_schema', schema, ...(anyWhitespace === false && { anyWhitespace }) };
  };
  const jsonObject = (): StructuredOutput => ({
    type: 'json_object',
    ...(anyWhitespace === false && { anyWhitespace }),
  });
  const tag = (value: unknown, param: string): StructuredOutput => {
    const parsed = typeof value === 'string' ? parseJsonText(value, param) : value;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      throw invalidRequest(`${param} must be a structural tag object`, param);
    return { type: 'structural_tag', tag: parsed as Record<string, unknown> };
  };

  const rf = body.response_format;
  if (rf?.type === 'json_object') found.push(['response_format', jsonObject()]);
  if (rf?.type === 'json_schema') {
    if (rf.json_schema.schema === undefined)
      throw invalidRequest(
        'response_format.json_schema.schema is required',
        'response_format.json_schema.schema',
      );
    found.push(['response_format', json(rf.json_schema.schema, 'response_format.json_schema.schema')]);
  }
  if (rf?.type === 'structural_tag') {
    const { type: _type, ...rest } = rf as Record<string, unknown>;
    found.push(['response_format', tag(rest, 'response_format')]);
  }
  if (so) {
    if (so.whitespace_pattern != null)
      throw unsupportedParameter(
        'structured_outputs.whitespace_pattern',
        'is not supported: XGrammar has no custom whitespace pattern',
      );
    if (so.json != null) found.push(['structured_outputs.json', json(so.json, 'structured_outputs.json')]);
    if (so.regex != null) found.push(['structured_outputs.regex', { type: 'regex', pattern: so.regex }]);
    if (so.choice != null) found.push(['structured_outputs.choice', { type: 'choice', choices: so.choice }]);
    if (so.grammar != null)
      found.push(['structured_outputs.grammar', { type: 'grammar', grammar: so.grammar }]);
    if (so.json_object) found.push(['structured_outputs.json_object', jsonObject()]);
    if (so.structural_tag != null)
      found.push([
        'structured_outputs.structural_tag',
        tag(so.structural_tag, 'structured_outputs.structural_tag'),
      ]);
  }
  if (body.guided_whitespace_pattern != null)
    throw unsupportedParameter(
      'guided_whitespace_pattern',
      'is not supported: XGrammar has no custom whitespace pattern',
    );
  if (body.guided_decoding_backend != null && !/^(xgrammar|auto)(:|$)/.test(body.guided_decoding_backend))
    throw unsupportedParameter('guided_decoding_backend', 'must be xgrammar (the only backend reverie has)');
  if (body.guided_json != null) found.push(['guided_json', json(body.guided_json, 'guided_json')]);
  if (body.guided_regex != null) found.push(['guided_regex', { type: 'regex', pattern: body.guided_regex }]);
  if (body.guided_choice != null)
    found.push(['guided_choice', { type: 'choice', choices: body.guided_choice }]);
  if (body.guided_grammar != null)
    found.push(['guided_grammar', { type: 'grammar', grammar: body.guided_grammar }]);

  // structured_outputs may carry only options (disable_any_whitespace, …) for a constraint that
  // response_format or guided_* names, as vLLM merges them; with nothing to apply them to, a 400.
  if (so && found.length === 0 && !hasOptionsTarget)
    throw invalidRequest(
      'structured_outputs names no constraint: give one of json, regex, choice, grammar, json_object, structural_tag',
      'structured_outputs',
    );
  if (found.length > 1) {
    throw invalidRequest(
      `only one kind of structured output per request; got ${found.map(([p]) => p).join(' and ')}`,
      found[1]![0],
      'conflicting_parameters',
    );
  }
  return found[0] ? { param: found[0][0], spec: found[0][1] } : null;
}
