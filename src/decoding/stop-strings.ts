/**
 * Stop strings over streamed text. Text that could still become a stop string is held back, so
 * a stop string is never emitted, also when it spans several tokens; the text before it is.
 * With `include` (vLLM's include_stop_str_in_output) the stop string itself ends the text.
 */
export class StopStringMatcher {
  readonly #stops: string[];
  readonly #longest: number;
  readonly #include: boolean;
  #held = '';

  constructor(stops: readonly string[], options: { include?: boolean } = {}) {
    this.#stops = stops.filter((s) => s.length > 0);
    this.#longest = Math.max(0, ...this.#stops.map((s) => s.length));
    this.#include = options.include ?? false;
  }

  /**
   * Adds newly decoded text. Returns the text that is safe to emit now and whether a stop string
   * was completed (then `text` is everything before it, or through it with `include`, and nothing
   * more may be emitted). `armed` false (min_tokens not reached yet, as in vLLM) emits the text
   * without matching, still holding back a tail that may begin a stop string.
   */
  push(delta: string, armed = true): { text: string; stopped: boolean } {
    if (this.#stops.length === 0) return { text: delta, stopped: false };
    const buf = this.#held + delta;
    let at = -1;
    let len = 0;
    for (const s of armed ? this.#stops : []) {
      const i = buf.indexOf(s);
      if (i >= 0 && (at < 0 || i < at || (i === at && s.length > len))) {
        at = i;
        len = s.length;
      }
    }
    if (at >= 0) {
      this.#held = '';
      return { text: buf.slice(0, this.#include ? at + len : at), stopped: true };
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

/** Cuts `text` at the first stop string (after it with `include`); `stopped` says whether one occurred. */
export function truncateAtStop(
  text: string,
  stops: readonly string[],
  options: { include?: boolean } = {},
): { text: string; stopped: boolean } {
  const m = new StopStringMatcher(stops, options).push(text);
  return m.stopped ? m : { text, stopped: false };
}
