import { stopIds } from '../decoding/discrete-answer.ts';
import { createDecoder } from '../decoding/sequence-decoder.ts';
import type { StructuredOutputCompiler } from '../decoding/structured/grammar-compiler.ts';
import type { TokenConstraint } from '../decoding/token-constraint.ts';
import type { DecodeContext, StepOutput } from '../decoding/types.ts';
import { CodedError } from '../errors.ts';
import { type Runner, rowOutput } from '../model/batch.ts';
import { KvChanges, stepSize } from './batch-builder.ts';
import { PREFIX_CACHE_SHARE } from './kv-budget.ts';
import { type EmitFn, RequestTracker, type TrackedRequest } from './request-tracker.ts';
import type { ResolvedRequest } from './resolve-request.ts';
import { type ScheduledRow, Scheduler } from './scheduler.ts';
import { Sequence } from './sequence.ts';
import { EngineError, type StepSample } from './types.ts';

/**
 * The engine's loop for one model: each step the scheduler decides, the batch builder turns its
 * plan into the runner's step message, the runner computes it, and each row's decoder turns its
 * logits into the next input. It never branches on a decoding mode: every row is a sequence of
 * weighted-bag inputs. The worker runs one per model; benchmarks and `reverie generate` run it on
 * their own thread (local.ts).
 */

export interface LoopLimits {
  maxNumSeqs: number;
  maxBatchedTokens: number;
  /** Resolved (see kv-budget.ts). */
  kvBudgetBytes: number;
  prefixCache: boolean;
  /** Flow control: events a request may send before its reader grants more (see FlowControl). */
  maxBufferedEvents: number;
}

/** What a loop may use besides its model (all optional). */
export interface LoopServices {
  /** Compiles structured-output constraints; without it such requests are refused. */
  structured?: StructuredOutputCompiler | null;
  /** Called when work arrives outside a message (a constraint finished compiling). */
  onWork?: () => void;
}

export type { EmitFn } from './request-tracker.ts';

export class EngineLoop {
  readonly scheduler: Scheduler;
  readonly #runner: Runner;
  readonly #ctx: DecodeContext;
  readonly #requests: RequestTracker;
  readonly #kv = new KvChanges();
  readonly #services: LoopServices;
  /** Requests whose constraint is compiling: not scheduled yet (vLLM's WAITING_FOR_FSM). */
  readonly #compiling = new Set<string>();
  #nextSeq = 1;
  #arrivals = 0;
  /** Prompt positions computed (prefix-cache hits skip these): counted for tests and metrics. */
  prefillPositions = 0;
  /** Cumulative milliseconds of whole steps (schedule, message, forward, decoders). */
  stepMs = 0;
  /** Steps that ran a forward since the worker last reported (it drains them into its message). */
  steps: StepSample[] = [];
  /** A step is in flight: pause changes wait for its end (see #pauseChanged). */
  #stepping = false;
  /** Requests paused or resumed while a step was in flight: applied when it ends. */
  readonly #pauseChanged = new Set<TrackedRequest>();

  constructor(
    runner: Runner,
    ctx: DecodeContext,
    limits: LoopLimits,
    emit: EmitFn,
    services: LoopServices = {},
  ) {
    this.#services = services;
    this.#runner = runner;
    this.#ctx = ctx;
    this.#requests = new RequestTracker({
      emit,
      maxBufferedEvents: limits.maxBufferedEvents,
      onPause: (state) => this.#pauseChangedFor(state),
    });
    const blockSize = runner.kvBlockSize;
    const kvCapacityBlocks = Math.floor(limits.kvBudgetBytes / (runner.kvBytesPerPosition * blockSize));
    this.scheduler = new Scheduler({
      blockSize,
      maxNumSeqs: limits.maxNumSeqs,
      maxBatchedTokens: limits.maxBatchedTokens,
      kvCapacityBlocks,
      prefixCache: limits.prefixCache,
      prefixCacheBlocks: Math.floor(kvCapacityBlocks * PREFIX_CACHE_SHARE),
    });
  }

  /** Bytes of KV the runner holds (sequences and prefix-cache entries). */
  kvBytes(): number {
    return this.#runner.kvBytes();
  }

  /** Cumulative milliseconds the runner spent in forward passes. */
  get forwardMs(): number {
    return this.#runner.forwardMs;
  }

  /** Rows to compute, or KV changes the runner has not applied yet (a step without rows applies them). */
  hasWork(): boolean {
    return this.scheduler.hasWork() || this.#kv.pending || this.scheduler.hasFrees();
  }

  /** Queues a request resolved on the main thread; its structured-output constraint compiles first. */
  submit(req: ResolvedRequest, now: number): void {
    if (this.#requests.has(req.id) || this.#compiling.has(req.id)) {
      this.#requests.refuse(req.id, new EngineError('invalid_value', `duplicate request id ${req.id}`));
      return;
    }
    const spec = req.params.structuredOutput;
    if (!spec) {
      this.#admit(req, [], now);
      return;
    }
    const compiler = this.#services.structured;
    if (!compiler) {
      const error = new EngineError(
        'invalid_value',
        'structured outputs are not available here',
        'structured_output',
      );
      this.#requests.refuse(req.id, error);
      return;
    }
    // The request waits, unscheduled, while its constraint compiles; a cancel meanwhile drops it.
    this.#compiling.add(req.id);
    compiler.constraints(spec, req.params.n, [...stopIds(this.#ctx, req.params).stops]).then(
      (constraints) => {
        if (!this.#compiling.delete(req.id)) {
          disposeAll(constraints);
          return;
        }
        try {
          this.#admit(req, constraints, now);
        } catch (err) {
          disposeAll(constraints);
          this.#requests.refuse(req.id, toEngineError(err));
        }
        this.#services.onWork?.();
      },
      (err: unknown) => {
        if (!this.#compiling.delete(req.id)) return;
        this.#requests.refuse(req.id, toEngineError(err));
        this.#services.onWork?.();
      },
    );
  }

  #admit(req: ResolvedRequest, constraints: TokenConstraint[], now: number): void {
    const seq = this.#sequence(req, 0, constraints, Int32Array.from(req.prompt));
    this.#requests.add(req, constraints, seq, now);
    this.scheduler.add(seq);
  }

  #sequence(req: ResolvedRequest, choice: number, constraints: TokenConstraint[], promptIds: Int32Array) {
    const decoder = createDecoder(req.params, this.#ctx, {
      startsInThinking: req.startsInThinking,
      choiceIndex: choice,
      promptIds: req.prompt,
      constraint: constraints[choice] ?? null,
    });
    return new Sequence(this.#nextSeq++, req.id, this.#arrivals++, promptIds, decoder);
  }

  /** Cancels a request: its sequences leave the scheduler; their KV is freed by the next step. */
  cancel(requestId: string): void {
    const cancelled = new EngineError('cancelled', 'the request was cancelled');
    if (this.#compiling.delete(requestId)) {
      this.#requests.refuse(requestId, cancelled);
      return;
    }
    const state = this.#requests.get(requestId);
    if (!state) return;
    this.#fail(state, cancelled);
    this.#requests.flush();
  }

  /** Flow control: the request's reader took `events` more (a paused request resumes). */
  credit(requestId: string, events: number): void {
    this.#requests.credit(requestId, events);
  }

  /** Fails every live request (engine shutting down or broken). */
  failAll(error: EngineError): void {
    for (const id of this.#compiling) this.#requests.refuse(id, error);
    this.#compiling.clear();
    for (const state of this.#requests.all()) this.#fail(state, error);
    this.#requests.flush();
  }

  /** Plans and runs one step, then hands each finished row's output to its decoder. */
  async step(now: () => number): Promise<void> {
    const started = now();
    this.#stepping = true;
    try {
      await this.#step(now);
    } finally {
      this.#stepping = false;
      for (const state of this.#pauseChanged) if (this.#requests.has(state.req.id)) this.#applyPause(state);
      this.#pauseChanged.clear();
      this.#requests.flush();
      this.stepMs += now() - started;
    }
  }

  async #step(now: () => number): Promise<void> {
    const batch = this.scheduler.schedule();
    for (const seq of batch.rejected) {
      const tooBig = 'the request needs more KV cache than the whole budget';
      this.#failRequestOf(seq, new EngineError('invalid_value', tooBig, 'max_tokens'));
    }
    for (const seq of batch.preempted) {
      const state = this.#requests.get(seq.requestId);
      if (state) state.preemptions++;
    }
    for (const seq of batch.admitted) {
      const state = this.#requests.get(seq.requestId);
      if (state) this.#requests.scheduled(state, seq.cachedTokens, now());
    }
    // Frees released since the last step (finished, cancelled) ride on this step's message: a
    // cancel that arrived while the previous step was in flight frees the KV that step appended.
    this.#kv.free(this.scheduler.takeFrees());
    const plan = this.#kv.plan(batch, this.#runner.hiddenSize);
    if (batch.rows.length > 0) {
      const size = stepSize(batch.rows);
      this.prefillPositions += size.promptPositions;
      this.steps.push({ rows: size.rows, positions: size.positions });
    }
    let result: Awaited<ReturnType<Runner['step']>>;
    try {
      result = await this.#runner.step(plan);
    } catch (err) {
      // A failed forward fails the requests in it; the engine and everyone else carry on.
      const error = new EngineError('internal_error', `forward pass failed: ${(err as Error).message}`);
      for (const row of batch.rows) this.#failRequestOf(row.seq, error);
      return;
    }
    this.scheduler.advance(batch);
    batch.rows.forEach((row, i) => {
      // Cancelled meanwhile, or more prompt to go.
      if (row.seq.status !== 'running' || row.seq.pending > 0) return;
      this.#afterRow(row, rowOutput(result, i), now);
    });
  }

  #afterRow(row: ScheduledRow, out: StepOutput, now: () => number): void {
    const { seq } = row;
    const state = this.#requests.get(seq.requestId);
    if (!state) return;
    if (row.start < seq.promptIds.length) {
      state.prefillDoneAt ??= now();
      const entry = this.scheduler.cachePrompt(seq);
      // A fork of just the entry's blocks: sharing would keep the whole prompt buffer alive (a
      // chunk's positions, not whole blocks) beyond what the budget counts for the entry.
      if (entry) this.#kv.fork(entry);
      if (state.toFork > 0 && seq === state.seqs[0]) this.#forkSamples(state, seq, out, now);
    }
    this.#decode(state, seq, out, now);
  }

  /**
   * n > 1: the other samples start from the first one's prompt KV (a copy in the next step's
   * message: they read its storage) and from the same logits.
   */
  #forkSamples(state: TrackedRequest, parent: Sequence, out: StepOutput, now: () => number): void {
    const children: Sequence[] = [];
    for (let i = 1; i <= state.toFork; i++) {
      const child = this.#sequence(state.req, i, state.constraints, parent.promptIds);
      child.computed = parent.computed;
      if (this.scheduler.addRunning(child)) {
        this.#kv.copy({ from: parent.id, to: child.id, length: parent.computed });
      } else {
        // No KV room now: the sample waits and recomputes its prompt later, like a preempted one.
        child.computed = 0;
        this.scheduler.add(child);
      }
      children.push(child);
    }
    state.toFork = 0;
    state.seqs.push(...children);
    state.live += children.length;
    for (const child of children) this.#decode(state, child, out, now);
  }

  #decode(state: TrackedRequest, seq: Sequence, out: StepOutput, now: () => number): void {
    let result: ReturnType<NonNullable<Sequence['decoder']>['next']>;
    try {
      result = seq.decoder!.next(out);
    } catch (err) {
      this.#fail(state, new EngineError('internal_error', `decoding failed: ${(err as Error).message}`));
      return;
    }
    this.#requests.decoded(state, result.events, now());
    if (result.input) seq.generated.push(result.input);
    if (!result.finished) return;
    this.scheduler.finish(seq);
    if (--state.live === 0) this.#requests.complete(state, now());
  }

  #failRequestOf(seq: Sequence, error: EngineError): void {
    const state = this.#requests.get(seq.requestId);
    if (state) this.#fail(state, error);
  }

  #fail(state: TrackedRequest, error: EngineError): void {
    for (const seq of state.seqs) if (seq.status !== 'finished') this.scheduler.finish(seq);
    this.#requests.fail(state, error);
  }

  /** While a step is in flight a pause change waits for its end: the step's rows must still reach their decoders. */
  #pauseChangedFor(state: TrackedRequest): void {
    if (this.#stepping) this.#pauseChanged.add(state);
    else this.#applyPause(state);
  }

  #applyPause(state: TrackedRequest): void {
    for (const seq of state.seqs) {
      if (state.paused) this.scheduler.pause(seq);
      else this.scheduler.resume(seq);
    }
  }
}

function disposeAll(constraints: TokenConstraint[]): void {
  for (const c of constraints) c.dispose();
}

function toEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  // A constraint that does not compile (StructuredOutputError) names its parameter.
  if (err instanceof CodedError && err.code === 'invalid_value')
    return new EngineError('invalid_value', err.message, err.param);
  return new EngineError('internal_error', (err as Error).message);
}
