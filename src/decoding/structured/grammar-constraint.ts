import type { GrammarMatcher } from '@mlc-ai/web-xgrammar';
import type { TokenConstraint } from '../token-constraint.ts';

/**
 * The embind object behind a GrammarMatcher. The library's `getNextTokenBitmask()` is async (it
 * awaits its initialisation first) but the decoder's step is synchronous, so the mask is read
 * from the native matcher directly: a `std::vector<int32_t>` of ⌈V/32⌉ words. This reaches past
 * the typed surface, which is why the package version is pinned exactly; the tests exercise it.
 */
interface NativeMatcher {
  GetNextTokenBitmask(vocabSize: number): { size(): number; get(i: number): number; delete(): void };
}

/** A TokenConstraint backed by one XGrammar matcher (one per choice). */
export class GrammarConstraint implements TokenConstraint {
  readonly #matcher: GrammarMatcher;
  readonly #native: NativeMatcher;
  readonly #vocabSize: number;
  readonly #bitmask: Int32Array;
  readonly #hidden: number | null;
  #disposed = false;

  /** @param hidden a stop id the matcher was given only because it needs one: never allowed */
  constructor(matcher: GrammarMatcher, vocabSize: number, hidden: number | null = null) {
    this.#matcher = matcher;
    this.#hidden = hidden;
    this.#native = (matcher as unknown as { handle: NativeMatcher }).handle;
    this.#vocabSize = vocabSize;
    this.#bitmask = new Int32Array(Math.ceil(vocabSize / 32));
  }

  nextTokenBitmask(): Int32Array {
    const words = this.#native.GetNextTokenBitmask(this.#vocabSize);
    try {
      const n = Math.min(words.size(), this.#bitmask.length);
      for (let i = 0; i < n; i++) this.#bitmask[i] = words.get(i);
    } finally {
      words.delete();
    }
    if (this.#hidden !== null) this.#bitmask[this.#hidden >> 5]! &= ~(1 << (this.#hidden & 31));
    return this.#bitmask;
  }

  accept(id: number): boolean {
    return this.#matcher.acceptToken(id);
  }

  get terminated(): boolean {
    return this.#matcher.isTerminated();
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#matcher.dispose();
  }
}
