import type { ResolvedDecodingParams } from '../decoding/params.ts';
import type { TokenConstraint } from '../decoding/token-constraint.ts';
import type { DecodeEvent } from '../decoding/types.ts';
import type { ResolvedRequest } from './resolve-request.ts';
import type { Sequence } from './sequence.ts';
import type { EngineError, EngineEvent } from './types.ts';

/**
 * The engine worker's view of each live request: its sequences (n samples), timings, token
 * counts and flow-control credit, and the events it owes its reader, sent once per step. It
 * never touches the scheduler or the runner: the loop (loop.ts) tells it what happened.
 */

export interface TrackedRequest {
  req: ResolvedRequest;
  params: ResolvedDecodingParams;
  /** Structured outputs: one compiled constraint per choice (empty without one). */
  constraints: TokenConstraint[];
  seqs: Sequence[];
  /** Samples (n) still to fork from the first sequence once its prompt is computed. */
  toFork: number;
  submittedAt: number;
  scheduledAt: number | null;
  prefillDoneAt: number | null;
  firstTokenAt: number | null;
  completionTokens: number;
  reasoningTokens: number;
  cachedTokens: number;
  preemptions: number;
  /** Sequences not finished yet. */
  live: number;
  /** Events it may still send before its reader grants more (flow control). */
  credit: number;
  /** Out of credit: its sequences stay out of the batches, KV kept, until credit comes. */
  paused: boolean;
}

export type EmitFn = (requestId: string, events: EngineEvent[]) => void;

export class RequestTracker {
  readonly #requests = new Map<string, TrackedRequest>();
  readonly #pending = new Map<string, EngineEvent[]>();
  readonly #emit: EmitFn;
  readonly #maxBufferedEvents: number;
  /** Called when a request runs out of credit (paused) or gets some back (resumed). */
  readonly #onPause: (request: TrackedRequest) => void;

  constructor(options: {
    emit: EmitFn;
    /** Flow control: events a request may send before its reader grants more. */
    maxBufferedEvents: number;
    onPause: (request: TrackedRequest) => void;
  }) {
    this.#emit = options.emit;
    this.#maxBufferedEvents = options.maxBufferedEvents;
    this.#onPause = options.onPause;
  }

  has(id: string): boolean {
    return this.#requests.has(id);
  }

  get(id: string): TrackedRequest | undefined {
    return this.#requests.get(id);
  }

  all(): TrackedRequest[] {
    return [...this.#requests.values()];
  }

  /** Starts tracking a request whose first sequence is `first`. */
  add(req: ResolvedRequest, constraints: TokenConstraint[], first: Sequence, now: number): TrackedRequest {
    const state: TrackedRequest = {
      req,
      params: req.params,
      constraints,
      seqs: [first],
      toFork: req.params.n - 1,
      submittedAt: now,
      scheduledAt: null,
      prefillDoneAt: null,
      firstTokenAt: null,
      completionTokens: 0,
      reasoningTokens: 0,
      cachedTokens: 0,
      preemptions: 0,
      live: 1,
      credit: this.#maxBufferedEvents,
      paused: false,
    };
    this.#requests.set(req.id, state);
    return state;
  }

  /** The request left the queue (its first admission). */
  scheduled(state: TrackedRequest, cachedTokens: number, now: number): void {
    state.cachedTokens = Math.max(state.cachedTokens, cachedTokens);
    if (state.scheduledAt !== null) return;
    state.scheduledAt = now;
    this.queue(state, { type: 'scheduled' });
  }

  /** A decoder's events: first-token time, token counts, then to the reader. */
  decoded(state: TrackedRequest, events: readonly DecodeEvent[], now: number): void {
    for (const ev of events) {
      if (ev.type !== 'finish' && state.firstTokenAt === null) state.firstTokenAt = now;
      if (ev.type === 'finish') {
        state.completionTokens += ev.usage.completionTokens;
        state.reasoningTokens += ev.usage.reasoningTokens;
      }
      this.queue(state, ev);
    }
  }

  /** Every sequence finished: the request's `done`, and it is forgotten. */
  complete(state: TrackedRequest, t: number): void {
    const since = (x: number | null) => (x ?? t) - state.submittedAt;
    this.queue(state, {
      type: 'done',
      usage: {
        promptTokens: state.req.prompt.length,
        completionTokens: state.completionTokens,
        reasoningTokens: state.reasoningTokens,
        cachedTokens: state.cachedTokens,
      },
      timings: {
        queueMs: since(state.scheduledAt),
        prefillMs: (state.prefillDoneAt ?? t) - (state.scheduledAt ?? t),
        firstTokenMs: since(state.firstTokenAt),
        totalMs: t - state.submittedAt,
      },
      preemptions: state.preemptions,
    });
    this.#forget(state);
  }

  /** The request failed: its `error`, and it is forgotten (the caller finishes its sequences). */
  fail(state: TrackedRequest, error: EngineError): void {
    this.#forget(state);
    this.queue(state, { type: 'error', error });
  }

  /** An error for a request that is not tracked (refused, or cancelled while compiling). */
  refuse(id: string, error: EngineError): void {
    this.#emit(id, [{ type: 'error', error }]);
  }

  /** Flow control: the reader took `events` more. */
  credit(id: string, events: number): void {
    const state = this.#requests.get(id);
    if (!state) return;
    state.credit += events;
    if (state.paused && state.credit > 0) {
      state.paused = false;
      this.#onPause(state);
    }
  }

  /** Holds an event for the request's reader; a request out of credit is paused. */
  queue(state: TrackedRequest, ev: EngineEvent): void {
    if (this.#requests.has(state.req.id) && --state.credit <= 0 && !state.paused) {
      state.paused = true;
      this.#onPause(state);
    }
    let list = this.#pending.get(state.req.id);
    if (!list) this.#pending.set(state.req.id, (list = []));
    list.push(ev);
  }

  /** Sends what each request has waiting, one message per request. */
  flush(): void {
    for (const [id, events] of this.#pending) this.#emit(id, events);
    this.#pending.clear();
  }

  #forget(state: TrackedRequest): void {
    this.#requests.delete(state.req.id);
    for (const c of state.constraints) c.dispose();
  }
}
