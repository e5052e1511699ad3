import type { DecodingTokenizer } from './types.ts';

/**
 * Streams text from token ids. Byte-level tokens can split a character, and some tokenizers
 * only know a token's leading space in context, so each delta is the difference between decoding
 * a short window with and without the new tokens; text ending in an incomplete character
 * (U+FFFD) waits for the next token. Each push decodes a few tokens, not the whole sequence.
 */
export class IncrementalDetokenizer {
  readonly #tokenizer: DecodingTokenizer;
  readonly #ids: number[] = [];
  /** Start of the decoding window (context for the tokenizer). */
  #prefix = 0;
  /** Tokens before this are emitted. */
  #read = 0;

  constructor(tokenizer: DecodingTokenizer) {
    this.#tokenizer = tokenizer;
  }

  /** All ids pushed so far. */
  get ids(): readonly number[] {
    return this.#ids;
  }

  /** Adds a token; returns the newly complete text ('' while a character is incomplete). */
  push(id: number): string {
    this.#ids.push(id);
    const before = this.#tokenizer.decode(this.#ids.slice(this.#prefix, this.#read));
    const after = this.#tokenizer.decode(this.#ids.slice(this.#prefix));
    if (after.length <= before.length || after.endsWith('\uFFFD')) return '';
    this.#prefix = this.#read;
    this.#read = this.#ids.length;
    return after.slice(before.length);
  }

  /** Whatever is still unemitted (an incomplete character comes out as U+FFFD). */
  flush(): string {
    const before = this.#tokenizer.decode(this.#ids.slice(this.#prefix, this.#read));
    const after = this.#tokenizer.decode(this.#ids.slice(this.#prefix));
    this.#prefix = this.#read = this.#ids.length;
    return after.length > before.length ? after.slice(before.length) : '';
  }
}
