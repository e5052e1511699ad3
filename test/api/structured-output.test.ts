import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import {
  structuredOutputFields,
  structuredOutputFromRequest,
  withoutAdditionalProperties,
} from '../../src/api/common/structured-output.ts';
import { ApiError } from '../../src/api/errors.ts';

/** The request fields that ask for structured outputs, and what they become (not wired yet). */

const parse = (body: unknown) => structuredOutputFromRequest(z.object(structuredOutputFields).parse(body));

function refuses(body: unknown, param: string, message: RegExp): void {
  assert.throws(
    () => parse(body),
    (err: unknown) => {
      assert.ok(err instanceof ApiError, String(err));
      assert.equal(err.status, 400);
      assert.equal(err.param, param);
      assert.match(err.message, message);
      return true;
    },
  );
}

describe('structured-output request fields', () => {
  const schema = { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] };

  it("maps OpenAI's response_format", () => {
    assert.equal(parse({}), null);
    assert.equal(parse({ response_format: { type: 'text' } }), null);
    assert.deepEqual(parse({ response_format: { type: 'json_object' } }), { type: 'json_object' });
    assert.deepEqual(
      parse({ response_format: { type: 'json_schema', json_schema: { name: 'r', schema, strict: true } } }),
      { type: 'json_schema', schema },
    );
    assert.deepEqual(
      parse({ response_format: { type: 'structural_tag', format: { type: 'const_string', value: 'x' } } }),
      { type: 'structural_tag', tag: { format: { type: 'const_string', value: 'x' } } },
    );
    refuses(
      { response_format: { type: 'json_schema', json_schema: { name: 'r' } } },
      'response_format.json_schema.schema',
      /is required/,
    );
  });

  it("maps vLLM's structured_outputs and the older guided_* fields", () => {
    assert.deepEqual(parse({ structured_outputs: { regex: '[0-9]+' } }), {
      type: 'regex',
      pattern: '[0-9]+',
    });
    assert.deepEqual(parse({ structured_outputs: { choice: ['a', 'b'] } }), {
      type: 'choice',
      choices: ['a', 'b'],
    });
    assert.deepEqual(parse({ structured_outputs: { grammar: 'root ::= "x"' } }), {
      type: 'grammar',
      grammar: 'root ::= "x"',
    });
    assert.deepEqual(
      parse({ structured_outputs: { json: JSON.stringify(schema), disable_any_whitespace: true } }),
      {
        type: 'json_schema',
        schema,
        anyWhitespace: false,
      },
    );
    assert.deepEqual(parse({ structured_outputs: { json_object: true } }), { type: 'json_object' });
    assert.deepEqual(parse({ structured_outputs: { structural_tag: '{"format":{"type":"any_text"}}' } }), {
      type: 'structural_tag',
      tag: { format: { type: 'any_text' } },
    });
    assert.deepEqual(parse({ guided_json: schema }), { type: 'json_schema', schema });
    assert.deepEqual(parse({ guided_regex: 'a+', guided_decoding_backend: 'xgrammar:no-fallback' }), {
      type: 'regex',
      pattern: 'a+',
    });
    assert.deepEqual(parse({ guided_choice: ['x'] }), { type: 'choice', choices: ['x'] });
    assert.deepEqual(parse({ guided_grammar: 'root ::= "y"' }), { type: 'grammar', grammar: 'root ::= "y"' });
  });

  it('refuses two constraints, unsupported options and malformed JSON with 400s naming the field', () => {
    refuses(
      { response_format: { type: 'json_object' }, guided_regex: 'a' },
      'guided_regex',
      /only one kind of structured output per request; got response_format and guided_regex/,
    );
    refuses(
      { structured_outputs: { regex: 'a', choice: ['b'] } },
      'structured_outputs.choice',
      /only one kind/,
    );
    refuses({ structured_outputs: {} }, 'structured_outputs', /names no constraint/);
    refuses(
      { structured_outputs: { json: '{}', whitespace_pattern: ' ' } },
      'structured_outputs.whitespace_pattern',
      /not supported/,
    );
    refuses({ guided_json: '{nope' }, 'guided_json', /not valid JSON/);
    refuses({ guided_json: '[1]' }, 'guided_json', /JSON Schema object/);
    refuses(
      { guided_regex: 'a', guided_decoding_backend: 'outlines' },
      'guided_decoding_backend',
      /xgrammar/,
    );
  });

  it('disable_additional_properties closes every object schema', () => {
    assert.deepEqual(
      withoutAdditionalProperties({
        type: 'object',
        properties: {
          inner: { type: 'object', properties: {}, additionalProperties: true },
          list: { type: 'array', items: { properties: { x: {} } } },
        },
      }),
      {
        type: 'object',
        additionalProperties: false,
        properties: {
          inner: { type: 'object', properties: {}, additionalProperties: false },
          list: { type: 'array', items: { properties: { x: {} }, additionalProperties: false } },
        },
      },
    );
    assert.deepEqual(
      parse({ structured_outputs: { json: { type: 'object' }, disable_additional_properties: true } }),
      {
        type: 'json_schema',
        schema: { type: 'object', additionalProperties: false },
      },
    );
  });
});
