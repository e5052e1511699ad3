/**
 * Stop strings over streamed text. Text that could still become a stop string is held back, so
 * a stop string is never emitted, also when it spans several tokens; the text before it is.
 */
export class StopStringMatcher {
  readonly #stops: string[];
  readonly #longest: number;
  #held = '';

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
    this.#longest = Math.max(0, ...this.#stops.map((s) => s.length));
  }

  /**
   * Adds newly decoded text. Returns the text that is safe to emit now and whether a stop string
   * was completed (then `text` is everything before it and nothing more may be emitted).
   */
  push(delta: string): { text: string; stopped: boolean } {
    if (this.#stops.length === 0) return { text: delta, stopped: false };
    const buf = this.#held + delta;
    let at = -1;
    for (const s of this.#stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) {
      this.#held = '';
      return { text: buf.slice(0, at), stopped: true };
    }
    const keep = this.#partialSuffix(buf);
    this.#held = buf.slice(buf.length - keep);
    return { text: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** Releases the held text when generation ends for another reason (EOS, length). */
  flush(): string {
    const text = this.#held;
    this.#held = '';
    return text;
  }

  /** Length of the longest suffix of buf that is a proper prefix of some stop string. */
  #partialSuffix(buf: string): number {
    for (let len = Math.min(buf.length, this.#longest - 1); len > 0; len--) {
      const tail = buf.slice(buf.length - len);
      if (this.#stops.some((s) => s.startsWith(tail))) return len;
    }
    return 0;
  }
}

/** Cuts `text` before the first stop string; `stopped` says whether one occurred. */
export function truncateAtStop(text: string, stops: readonly string[]): { text: string; stopped: boolean } {
  const m = new StopStringMatcher(stops).push(text);
  return m.stopped ? m : { text, stopped: false };
}
