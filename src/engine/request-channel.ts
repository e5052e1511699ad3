import type { EngineEvent } from './types.ts';

/**
 * The events of one request, from the worker to whoever iterates: a small unbounded queue (a
 * request's events are bounded by its own token budget) with one waiting reader.
 */
export class RequestChannel implements AsyncIterable<EngineEvent> {
  readonly #queue: EngineEvent[] = [];
  #waiter: ((r: IteratorResult<EngineEvent>) => void) | null = null;
  #ended = false;
  /** Called when the reader stops early (break, return) before the request ended. */
  onAbandon: (() => void) | null = null;

  get ended(): boolean {
    return this.#ended;
  }

  push(ev: EngineEvent): void {
    if (this.#ended) return;
    if (ev.type === 'done' || ev.type === 'error') this.#ended = true;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w({ value: ev, done: false });
    } else this.#queue.push(ev);
  }

  [Symbol.asyncIterator](): AsyncIterator<EngineEvent> {
    let finished = false;
    return {
      next: () => {
        const ev = this.#queue.shift();
        if (ev) return Promise.resolve({ value: ev, done: false });
        if (finished || (this.#ended && this.#queue.length === 0))
          return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiter = resolve;
        }).then((r) => {
          return r as IteratorResult<EngineEvent>;
        });
      },
      return: () => {
        finished = true;
        if (!this.#ended) this.onAbandon?.();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
