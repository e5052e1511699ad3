import type { TextOptions } from './params.ts';
import type { DecodingTokenizer } from './types.ts';

/**
 * A UTF-8 character has at most 4 bytes and a byte-level token carries at least one, so text
 * still incomplete after this many pending ids is invalid output: it is emitted as it is.
 */
const MAX_HELD_IDS = 8;

/**
 * Streams text from token ids: the one incremental detokenizer (decoders, `reverie generate`).
 * Byte-level tokens can split a character, and some tokenizers only know a token's leading space
 * in context, so each delta is the difference between decoding a short window with and without
 * the new tokens; text ending in an incomplete character (U+FFFD) waits for the next token, up to
 * MAX_HELD_IDS tokens. Each push decodes a few tokens, not the whole sequence.
 *
 * Options as vLLM's fast detokenizer applies them: `skipSpecialTokens` leaves special tokens out;
 * with it off and `spacesBetweenSpecialTokens` off, an added token right after another added
 * token comes out as its raw content, without whatever space the tokenizer's decoder puts
 * between them.
 */
export class IncrementalDetokenizer {
  readonly #tokenizer: DecodingTokenizer;
  readonly #skip: boolean;
  readonly #rawAdjacentAdded: boolean;
  readonly #ids: number[] = [];
  /** Start of the decoding window (context for the tokenizer). */
  #prefix = 0;
  /** Tokens before this are emitted. */
  #read = 0;
  #lastWasAdded = false;

  constructor(
    tokenizer: DecodingTokenizer,
    options: TextOptions = { skipSpecialTokens: false, spacesBetweenSpecialTokens: true },
  ) {
    this.#tokenizer = tokenizer;
    this.#skip = options.skipSpecialTokens;
    this.#rawAdjacentAdded = !options.skipSpecialTokens && !options.spacesBetweenSpecialTokens;
  }

  #decode(ids: readonly number[]): string {
    return this.#tokenizer.decode(ids, { skipSpecialTokens: this.#skip });
  }

  /** All ids pushed so far. */
  get ids(): readonly number[] {
    return this.#ids;
  }

  /** Adds a token; returns the newly complete text ('' while a character is incomplete). */
  push(id: number): string {
    if (this.#rawAdjacentAdded) {
      const added = this.#tokenizer.addedToken?.(id);
      const follows = this.#lastWasAdded;
      this.#lastWasAdded = added !== undefined;
      if (added !== undefined && follows) {
        // Whatever is pending comes out first, then the token's own content; it stays as context.
        const pending = this.flush();
        this.#ids.push(id);
        this.#prefix = this.#ids.length - 1;
        this.#read = this.#ids.length;
        return pending + added;
      }
    }
    this.#ids.push(id);
    const before = this.#decode(this.#ids.slice(this.#prefix, this.#read));
    const after = this.#decode(this.#ids.slice(this.#prefix));
    const held = this.#ids.length - this.#read;
    if (after.length <= before.length || (after.endsWith('\uFFFD') && held < MAX_HELD_IDS)) return '';
    this.#prefix = this.#read;
    this.#read = this.#ids.length;
    return after.slice(before.length);
  }

  /** Whatever is still unemitted (an incomplete character comes out as U+FFFD). */
  flush(): string {
    const before = this.#decode(this.#ids.slice(this.#prefix, this.#read));
    const after = this.#decode(this.#ids.slice(this.#prefix));
    this.#prefix = this.#read = this.#ids.length;
    return after.length > before.length ? after.slice(before.length) : '';
  }
}
