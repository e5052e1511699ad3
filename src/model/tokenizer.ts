import { Tokenizer } from '@huggingface/tokenizers';
import { CheckpointError } from './checkpoint-error.ts';

/**
 * The model's text tokenizer: a thin, typed wrapper over @huggingface/tokenizers that fixes the
 * choices an inference server must make explicitly (are special-token strings in the text control
 * tokens or plain text? how is text streamed when a token ends in the middle of a character?).
 */

/** How {@link TextTokenizer.encode} treats special-token strings found in the text. */
export interface EncodeOptions {
  /**
   * true: `<|im_end|>` in the text becomes the special token's id (what a rendered chat prompt
   * needs). false: it is encoded as ordinary text, so user content cannot forge control tokens.
   * Only tokens marked `special` are affected; other added tokens always match, as in Hugging Face.
   */
  specialTokens: boolean;
  /**
   * Let the tokenizer's post-processor add its special tokens (Llama 3's `<|begin_of_text|>`), as
   * Hugging Face's `add_special_tokens=True` (vLLM's /tokenize default for a prompt). Default
   * false: rendered chat prompts carry their own. Needs `specialTokens: true`.
   */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens from the text (default false: they are rendered as their strings). */
  skipSpecialTokens?: boolean;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * @example
 * const tok = new TextTokenizer(checkpoint.tokenizerJson, checkpoint.tokenizerConfig);
 * const ids = tok.encode(prompt, { specialTokens: true });
 * const text = tok.decode(ids);
 */
export class TextTokenizer {
  /** One more than the largest id the tokenizer can produce (the model's vocab may be padded larger). */
  readonly vocabSize: number;
  readonly #tok: Tokenizer;
  readonly #specialIds: ReadonlySet<number>;
  /** Every added token's content by id (special or not). */
  readonly #added: ReadonlyMap<number, string>;
  /** Matches any special token's string, longest first; null when there are none. */
  readonly #specialPattern: RegExp | null;

  /**
   * @param tokenizerJson parsed `tokenizer.json`
   * @param tokenizerConfig parsed `tokenizer_config.json`
   * @throws CheckpointError (`invalid`, file `tokenizer.json`) when the library cannot build it
   */
  constructor(tokenizerJson: object, tokenizerConfig: object) {
    try {
      this.#tok = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (err) {
      throw new CheckpointError(
        'invalid',
        'tokenizer.json',
        `cannot build tokenizer: ${(err as Error).message}`,
      );
    }
    const addedTokens = [...this.#tok.get_added_tokens_decoder().values()];
    this.#added = new Map(addedTokens.map((t) => [t.id, t.content]));
    const special = addedTokens.filter((t) => t.special);
    this.#specialIds = new Set(special.map((t) => t.id));
    const strings = special.map((t) => t.content).sort((a, b) => b.length - a.length);
    this.#specialPattern = strings.length ? new RegExp(strings.map(escapeRegExp).join('|'), 'g') : null;
    let maxId = -1;
    for (const id of this.#tok.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
  }

  /** Token ids of `text`. Adds no BOS/EOS unless `addSpecialTokens`: chat templates write their own. */
  encode(text: string, options: EncodeOptions): number[] {
    if (options.addSpecialTokens) {
      if (!options.specialTokens) throw new Error('addSpecialTokens needs specialTokens: true');
      return this.#tok.encode(text, { add_special_tokens: true }).ids;
    }
    if (options.specialTokens || !this.#specialPattern) return this.#encodeMatched(text);
    const ids: number[] = [];
    let last = 0;
    for (const match of text.matchAll(this.#specialPattern)) {
      ids.push(...this.#encodeMatched(text.slice(last, match.index)), ...this.#encodeLiteral(match[0]));
      last = match.index + match[0].length;
    }
    ids.push(...this.#encodeMatched(text.slice(last)));
    return ids;
  }

  /** Text of `ids`; special tokens appear as their strings unless skipped. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    if (ids.length === 0) return '';
    return this.#tok.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
    });
  }

  /**
   * The raw vocabulary piece of one id (for traces and debugging), e.g. `Ġthe` for a byte-level
   * BPE; not decoded text, since a byte-level piece may be part of a character.
   */
  tokenText(id: number): string {
    const piece = this.#tok.id_to_token(id);
    if (piece === undefined) throw new RangeError(`token id ${id} is not in the vocabulary`);
    return piece;
  }

  /** The id of a token string (typically a special such as `<think>`), or undefined. */
  idOf(token: string): number | undefined {
    return this.#tok.token_to_id(token);
  }

  /** Whether `id` is a special (control) token. */
  isSpecial(id: number): boolean {
    return this.#specialIds.has(id);
  }

  /** The content of an added token (special or not, e.g. `<think>`), or undefined. */
  addedToken(id: number): string | undefined {
    return this.#added.get(id);
  }

  #encodeMatched(text: string): number[] {
    if (text.length === 0) return [];
    return this.#tok.encode(text, { add_special_tokens: false }).ids;
  }

  /** Runs the normaliser, pre-tokeniser and model directly, bypassing added-token matching. */
  #encodeLiteral(text: string): number[] {
    const tok = this.#tok;
    const normalized = tok.normalizer ? tok.normalizer(text) : text;
    const words = tok.pre_tokenizer ? tok.pre_tokenizer(normalized) : [normalized];
    const pieces: string[] = tok.model ? tok.model(words) : words;
    return pieces.map((piece) => {
      const id = tok.token_to_id(piece);
      if (id === undefined) throw new RangeError(`tokenizer produced unknown piece ${JSON.stringify(piece)}`);
      return id;
    });
  }
}
