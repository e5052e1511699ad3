import { RequestChannel } from './request-channel.ts';
import type { FlowStats } from './types.ts';

/** What flow control asks of the engine, by request id. */
export interface FlowActions {
  /** The reader took `events` more: the worker may send that many more. */
  credit(id: string, events: number): void;
  /** The reader stayed stalled past the timeout: cancel the request. */
  stalled(id: string): void;
}

export interface FlowLimits {
  /** Events one request may have on their way or waiting unread (its initial credit). */
  maxBufferedEvents: number;
  /** How long a request may stay out of credit (paused) before it is cancelled, ms. */
  stallTimeoutMs: number;
}

interface Window {
  /** Events received for the reader (the last one aside). */
  received: number;
  /** Credit granted to the worker so far, the initial window included. */
  granted: number;
  /** Events read since the last grant. */
  read: number;
  /** Set while the request is out of credit: cancels it when it fires. */
  timer: NodeJS.Timeout | null;
}

/**
 * Backpressure between the engine and slow readers, by credit (as HTTP/2 windows). The worker may
 * send a request `maxBufferedEvents` events; the main thread grants more as the reader takes them,
 * half a window at a time. A request out of credit is paused by the worker (its rows leave the
 * batches, KV kept) and resumes when credit comes; if none comes within the stall timeout, the
 * request is cancelled. So at most a window of events (plus the one step that used up the
 * credit) ever waits for a reader, whatever the reader or the main thread's backlog.
 */
export class FlowControl {
  readonly #limits: FlowLimits;
  readonly #actions: FlowActions;
  readonly #windows = new Map<string, Window>();
  readonly #stats: FlowStats = { paused: 0, bufferedEvents: 0, pauses: 0, resumes: 0, stallCancels: 0 };

  constructor(limits: FlowLimits, actions: FlowActions) {
    this.#limits = limits;
    this.#actions = actions;
  }

  /** A channel for request `id`, its reads granting the worker credit. */
  channel(id: string): RequestChannel {
    const window: Window = { received: 0, granted: this.#limits.maxBufferedEvents, read: 0, timer: null };
    this.#windows.set(id, window);
    return new RequestChannel({
      onPush: () => this.#received(id, window),
      onRead: () => this.#read(id, window),
      onBuffered: (delta) => {
        this.#stats.bufferedEvents += delta;
      },
    });
  }

  /** The request ended: nothing more to grant or time out. */
  forget(id: string): void {
    const window = this.#windows.get(id);
    if (!window) return;
    this.#stop(window);
    this.#windows.delete(id);
  }

  stats(): FlowStats {
    return { ...this.#stats };
  }

  #received(id: string, window: Window): void {
    window.received++;
    if (window.received < window.granted || window.timer || !this.#windows.has(id)) return;
    // Out of credit: the worker pauses the request after this step.
    window.timer = setTimeout(() => {
      this.#stop(window);
      this.#stats.stallCancels++;
      this.#actions.stalled(id);
    }, this.#limits.stallTimeoutMs);
    // A paused request alone must not keep the process up.
    window.timer.unref();
    this.#stats.paused++;
    this.#stats.pauses++;
  }

  #read(id: string, window: Window): void {
    window.read++;
    if (window.read < this.#limits.maxBufferedEvents / 2 || !this.#windows.has(id)) return;
    window.granted += window.read;
    this.#actions.credit(id, window.read);
    window.read = 0;
    if (window.timer && window.received < window.granted) {
      this.#stop(window);
      this.#stats.resumes++;
    }
  }

  #stop(window: Window): void {
    if (!window.timer) return;
    clearTimeout(window.timer);
    window.timer = null;
    this.#stats.paused--;
  }
}
