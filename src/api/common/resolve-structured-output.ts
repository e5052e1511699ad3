import { type StructuredOutput, StructuredOutputError } from '../../decoding/structured/spec.ts';
import { validateStructuredOutput } from '../../decoding/structured/validate.ts';
import { invalidRequest } from '../errors.ts';
import {
  type RequestedStructuredOutput,
  requestedStructuredOutput,
  type StructuredOutputFields,
  withoutAdditionalProperties,
} from './structured-output.ts';

/**
 * The request's structured output as an endpoint submits it (validated on the API thread's
 * XGrammar, src/decoding/structured/validate.ts); apart from structured-output.ts, whose schemas
 * the browser playground's types import, because validation loads XGrammar.
 */

/**
 * The request's constraint, validated by XGrammar on this thread (see validate.ts): what an
 * endpoint's `prepare` awaits before submitting. `extra` is a constraint the endpoint adds itself
 * (a forcing `tool_choice`), which may not be combined with one the request asks for.
 * @throws ApiError 400 naming the field: two constraints, a malformed one, or one XGrammar refuses
 */
export async function resolveStructuredOutput(
  body: StructuredOutputFields,
  extra: RequestedStructuredOutput | null = null,
): Promise<StructuredOutput | null> {
  const asked = requestedStructuredOutput(body, extra !== null);
  if (asked && extra) {
    throw invalidRequest(
      `${extra.param} constrains the answer already: it cannot be combined with ${asked.param}`,
      asked.param,
      'conflicting_parameters',
    );
  }
  const found = asked ?? withOptions(extra, body.structured_outputs);
  if (!found) return null;
  try {
    await validateStructuredOutput(found.spec);
  } catch (err) {
    if (!(err instanceof StructuredOutputError)) throw err;
    throw invalidRequest(`${found.param}: ${err.message}`, found.param);
  }
  return found.spec;
}

/** A constraint the endpoint made, with the request's structured_outputs options applied. */
function withOptions(
  extra: RequestedStructuredOutput | null,
  so: StructuredOutputFields['structured_outputs'],
): RequestedStructuredOutput | null {
  if (!extra || !so) return extra;
  if (extra.spec.type === 'json_object')
    return so.disable_any_whitespace
      ? { param: extra.param, spec: { ...extra.spec, anyWhitespace: false } }
      : extra;
  if (extra.spec.type !== 'json_schema') return extra;
  let schema = extra.spec.schema;
  if (so.disable_additional_properties) schema = withoutAdditionalProperties(schema);
  return {
    param: extra.param,
    spec: { ...extra.spec, schema, ...(so.disable_any_whitespace && { anyWhitespace: false }) },
  };
}
