/**
 * The vocabulary as XGrammar needs it (its `TokenizerInfo`): every id's raw piece in id order,
 * how pieces decode to bytes, and the stop tokens. Built the way XGrammar's own
 * `TokenizerInfo.from_huggingface` reads a `tokenizer.json`, with one deliberate difference:
 * special tokens (`<think>`, `<|im_start|>`, …) get an empty piece, which XGrammar treats as a
 * special token that no grammar ever allows — otherwise a byte-level vocabulary would let
 * `<|im_start|>` appear inside a JSON string as the text it spells.
 */

/** How XGrammar turns a piece into bytes (its `VocabType`). */
export type VocabType = 'byte_level' | 'byte_fallback' | 'raw';

/** What the vocabulary is read from; the server's TextTokenizer satisfies it. */
export interface VocabularySource {
  /** One more than the largest id the tokenizer can produce. */
  readonly vocabSize: number;
  /** The raw piece of an id (throws for an id that has none). */
  tokenText(id: number): string;
  isSpecial(id: number): boolean;
}

export interface GrammarVocabulary {
  /** Piece of every id below `vocabSize`; '' for special tokens and ids without a piece. */
  encodedVocab: string[];
  vocabType: VocabType;
  /** SentencePiece-style tokenizers that prepend a space to the text (Llama 2). */
  prependSpace: boolean;
  /** The logits' length (the model's vocab, possibly padded beyond the tokenizer's). */
  vocabSize: number;
  /** Tokens that end the answer; a grammar allows them only where its text may end. */
  stopTokenIds: number[];
}

type Json = Record<string, unknown>;

/** The decoder's steps (`Sequence` or a single decoder). */
function steps(node: unknown): Json[] {
  if (!node || typeof node !== 'object') return [];
  const n = node as Json;
  if (n.type === 'Sequence') {
    const inner = (n.decoders ?? n.pretokenizers ?? n.normalizers) as unknown[] | undefined;
    return (inner ?? []).flatMap(steps);
  }
  return [n];
}

/**
 * Reads the vocabulary type from a parsed `tokenizer.json`: a ByteLevel decoder means GPT-2 byte
 * pieces (Qwen, Llama 3, reverie's byte tokenizer), a ByteFallback decoder means SentencePiece
 * pieces with `<0xNN>` bytes (Llama 2, Mistral); anything else is raw text.
 */
export function vocabTypeOf(tokenizerJson: Json): { vocabType: VocabType; prependSpace: boolean } {
  const decoders = steps(tokenizerJson.decoder);
  if (decoders.some((d) => d.type === 'ByteLevel')) return { vocabType: 'byte_level', prependSpace: false };
  if (decoders.some((d) => d.type === 'ByteFallback')) {
    const normalizers = steps(tokenizerJson.normalizer);
    const pre = steps(tokenizerJson.pre_tokenizer);
    const prependSpace =
      normalizers.some((n) => n.type === 'Prepend' && n.prepend === '▁') ||
      pre.some(
        (p) =>
          p.type === 'Metaspace' &&
          (p.prepend_scheme === 'first' || p.prepend_scheme === 'always' || p.add_prefix_space === true),
      );
    return { vocabType: 'byte_fallback', prependSpace };
  }
  return { vocabType: 'raw', prependSpace: false };
}

/**
 * @param tokenizerJson parsed `tokenizer.json` (for the vocabulary type)
 * @param logitsSize the model's vocab size (logits length), ≥ the tokenizer's
 * @param excludedIds ids no grammar may produce although they are not special tokens (the think
 *   markers: Qwen3's `<think>` is an ordinary added token, but inside an answer it is no text)
 * @example grammarVocabulary(checkpoint.tokenizerJson, tokenizer, config.vocabSize, eosIds)
 */
export function grammarVocabulary(
  tokenizerJson: Json,
  source: VocabularySource,
  logitsSize: number,
  stopTokenIds: readonly number[],
  excludedIds: readonly number[] = [],
): GrammarVocabulary {
  const size = Math.min(source.vocabSize, logitsSize);
  const excluded = new Set(excludedIds);
  const encodedVocab = new Array<string>(size);
  for (let id = 0; id < size; id++) {
    let piece = '';
    if (!source.isSpecial(id) && !excluded.has(id)) {
      try {
        piece = source.tokenText(id);
      } catch {
        // An id the tokenizer never produces (a gap in the vocabulary): never allowed.
      }
    }
    encodedVocab[id] = piece;
  }
  return {
    encodedVocab,
    ...vocabTypeOf(tokenizerJson),
    vocabSize: logitsSize,
    stopTokenIds: [...stopTokenIds],
  };
}
