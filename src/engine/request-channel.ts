import type { EngineEvent } from './types.ts';

/** Flow-control hooks of a channel (see src/engine/flow-control.ts). */
export interface ChannelHooks {
  /** An event arrived for the reader (not the last one). */
  onPush(): void;
  /** The reader took an event. */
  onRead(): void;
  /** The number of queued events changed by `delta` (for a total across channels). */
  onBuffered(delta: number): void;
}

/**
 * The events of one request, from the worker to whoever iterates: a queue with one waiting reader.
 * The queue is bounded by flow control (the producer's credit), not here: events are never dropped.
 */
export class RequestChannel implements AsyncIterable<EngineEvent> {
  #queue: EngineEvent[] = [];
  #waiter: ((r: IteratorResult<EngineEvent>) => void) | null = null;
  #ended = false;
  readonly #hooks: ChannelHooks | null;
  /** Called when the reader stops early (break, return) before the request ended. */
  onAbandon: (() => void) | null = null;

  constructor(hooks: ChannelHooks | null = null) {
    this.#hooks = hooks;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Events pushed and not yet read. */
  get buffered(): number {
    return this.#queue.length;
  }

  push(ev: EngineEvent): void {
    if (this.#ended) return;
    if (ev.type === 'done' || ev.type === 'error') this.#ended = true;
    // The last event needs no credit: nothing follows it.
    else this.#hooks?.onPush();
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      this.#hooks?.onRead();
      w({ value: ev, done: false });
      return;
    }
    this.#queue.push(ev);
    this.#hooks?.onBuffered(1);
  }

  #take(): EngineEvent | undefined {
    const ev = this.#queue.shift();
    if (!ev) return undefined;
    this.#hooks?.onBuffered(-1);
    this.#hooks?.onRead();
    return ev;
  }

  [Symbol.asyncIterator](): AsyncIterator<EngineEvent> {
    let finished = false;
    return {
      next: () => {
        const ev = this.#take();
        if (ev) return Promise.resolve({ value: ev, done: false });
        if (finished || this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiter = resolve;
        });
      },
      return: () => {
        finished = true;
        // What the reader left unread goes with it.
        this.#hooks?.onBuffered(-this.#queue.length);
        this.#queue = [];
        if (!this.#ended) this.onAbandon?.();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
