import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { IncrementalDetokenizer } from '../../src/decoding/detokenizer.ts';
import {
  BYTE_SPECIAL_TOKENS,
  BYTE_VOCAB_SIZE,
  byteTokenizerConfigJson,
  byteTokenizerJson,
  ENDOFTEXT_ID,
  IM_END_ID,
  IM_START_ID,
  THINK_END_ID,
  THINK_START_ID,
} from '../../src/model/byte-tokenizer.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';

const SAMPLES = [
  'hello world',
  'héllo wörld — naïve café',
  '日本語のテキストと中文',
  'emoji 😀👍🏽 and a family 👨‍👩‍👧 with ZWJ',
  'tabs\tand\nnewlines\r\n  spaces ',
  'digits 0123456789 and "quotes" \\ backslash',
  '',
];

function byteTokenizer(): TextTokenizer {
  return new TextTokenizer(JSON.parse(byteTokenizerJson()), JSON.parse(byteTokenizerConfigJson()));
}

function fixtureTokenizer(): TextTokenizer {
  const read = (name: string) =>
    JSON.parse(readFileSync(new URL(`../fixtures/loader/${name}`, import.meta.url), 'utf8'));
  return new TextTokenizer(read('bpe-tokenizer.json'), read('bpe-tokenizer_config.json'));
}

/** Feeds ids one by one and checks that no delta carries a replacement character. */
function streamed(tok: TextTokenizer, ids: number[]): { deltas: string[]; text: string } {
  const decoder = new IncrementalDetokenizer(tok);
  const deltas = ids.map((id) => decoder.push(id));
  for (const delta of deltas)
    assert.ok(!delta.includes('\uFFFD'), `broken UTF-8 in delta ${JSON.stringify(delta)}`);
  return { deltas, text: deltas.join('') + decoder.flush() };
}

describe('TextTokenizer with the byte tokenizer', () => {
  const tok = byteTokenizer();

  it('maps every byte to its own id and round-trips any UTF-8', () => {
    for (const text of SAMPLES) {
      const ids = tok.encode(text, { specialTokens: true });
      assert.deepEqual(ids, [...Buffer.from(text, 'utf8')], text);
      assert.equal(tok.decode(ids), text);
    }
  });

  it('encodes special-token strings to single ids when asked', () => {
    const ids = tok.encode('<|im_start|>user\nhi<|im_end|><think>x</think><|endoftext|>', {
      specialTokens: true,
    });
    assert.deepEqual(ids, [
      IM_START_ID,
      ...Buffer.from('user\nhi'),
      IM_END_ID,
      THINK_START_ID,
      120,
      THINK_END_ID,
      ENDOFTEXT_ID,
    ]);
    for (const [i, s] of BYTE_SPECIAL_TOKENS.entries()) assert.equal(tok.idOf(s), 256 + i);
    assert.equal(tok.idOf('<nope>'), undefined);
  });

  it('encodes special-token strings as plain text otherwise, so user text cannot forge them', () => {
    const text = 'a<|im_end|>b<think>';
    const ids = tok.encode(text, { specialTokens: false });
    assert.deepEqual(ids, [...Buffer.from(text)]);
    assert.equal(tok.decode(ids), text);
  });

  it('knows its size, its specials and their pieces', () => {
    assert.equal(tok.vocabSize, BYTE_VOCAB_SIZE);
    assert.ok(tok.isSpecial(IM_END_ID) && !tok.isSpecial(65));
    assert.equal(tok.tokenText(32), 'Ġ');
    assert.equal(tok.tokenText(THINK_START_ID), '<think>');
    assert.throws(() => tok.tokenText(9999), RangeError);
  });

  it('skips special tokens when decoding on request', () => {
    const ids = tok.encode('<think>hi</think>', { specialTokens: true });
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'hi');
    assert.equal(tok.decode([]), '');
  });

  it('streams text without ever emitting half a character', () => {
    for (const text of SAMPLES) {
      const ids = tok.encode(text, { specialTokens: true });
      assert.equal(streamed(tok, ids).text, text);
    }
  });

  it('holds back a 4-byte character until its last byte arrives', () => {
    const ids = tok.encode('a😀', { specialTokens: true });
    assert.deepEqual(streamed(tok, ids).deltas, ['a', '', '', '', '😀']);
  });

  it('does not hold invalid bytes back forever', () => {
    const decoder = new IncrementalDetokenizer(tok);
    const deltas = Array.from({ length: 12 }, () => decoder.push(0xff));
    assert.ok(deltas.slice(0, 7).every((d) => d === ''));
    assert.ok(deltas.some((d) => d.length > 0));
    assert.equal(deltas.join('') + decoder.flush(), tok.decode(Array(12).fill(0xff)));
  });

  it('flushes an incomplete trailing character as a replacement', () => {
    const decoder = new IncrementalDetokenizer(tok);
    assert.equal(decoder.push(0xe4), '');
    assert.equal(decoder.flush(), '\uFFFD');
  });
});

describe('TextTokenizer with a BPE tokenizer that has merges', () => {
  const tok = fixtureTokenizer();

  it('applies the merges', () => {
    const ids = tok.encode('hello world', { specialTokens: true });
    assert.deepEqual(
      ids.map((id) => tok.tokenText(id)),
      ['hello', 'Ġworld'],
    );
    assert.deepEqual(
      tok.encode('中', { specialTokens: true }).map((id) => tok.tokenText(id)),
      ['ä¸Ń'],
    );
  });

  it('round-trips arbitrary UTF-8', () => {
    for (const text of SAMPLES) assert.equal(tok.decode(tok.encode(text, { specialTokens: true })), text);
  });

  it('treats specials by the option', () => {
    const withSpecials = tok.encode('hello<|im_end|>', { specialTokens: true });
    assert.equal(withSpecials.at(-1), tok.idOf('<|im_end|>'));
    assert.equal(withSpecials.length, 2);
    const literal = tok.encode('hello<|im_end|>', { specialTokens: false });
    assert.ok(!literal.includes(tok.idOf('<|im_end|>')!));
    assert.equal(tok.decode(literal), 'hello<|im_end|>');
  });

  it('streams merged multi-byte pieces and split characters alike', () => {
    for (const text of SAMPLES) {
      const ids = tok.encode(text, { specialTokens: true });
      assert.equal(streamed(tok, ids).text, text);
    }
  });
});

describe('the post-processor’s special tokens (add_special_tokens)', () => {
  it('adds them only when asked, as Hugging Face does for Llama 3’s BOS', () => {
    const json = JSON.parse(byteTokenizerJson());
    json.post_processor = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [],
      special_tokens: {
        '<|endoftext|>': { id: '<|endoftext|>', ids: [ENDOFTEXT_ID], tokens: ['<|endoftext|>'] },
      },
    };
    const tok = new TextTokenizer(json, JSON.parse(byteTokenizerConfigJson()));
    assert.deepEqual(tok.encode('hi', { specialTokens: true }), [104, 105]);
    assert.deepEqual(tok.encode('hi', { specialTokens: true, addSpecialTokens: true }), [
      ENDOFTEXT_ID,
      104,
      105,
    ]);
    assert.throws(
      () => tok.encode('hi', { specialTokens: false, addSpecialTokens: true }),
      /needs specialTokens/,
    );
  });
});
