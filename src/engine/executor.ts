import { stopIds } from '../decoding/discrete-answer.ts';
import type { ResolvedDecodingParams } from '../decoding/params.ts';
import { createDecoder } from '../decoding/sequence-decoder.ts';
import type { StructuredOutputCompiler } from '../decoding/structured/grammar-compiler.ts';
import { StructuredOutputError } from '../decoding/structured/spec.ts';
import type { TokenConstraint } from '../decoding/token-constraint.ts';
import type { BagInput, DecodeContext, DecodeEvent } from '../decoding/types.ts';
import { type RowStep, rowHidden, rowLogits } from '../model/batch.ts';
import type { ModelRunner } from '../model/runner.ts';
import { KV_BLOCK } from './config.ts';
import { kvBytesPerPosition, PREFIX_CACHE_SHARE } from './kv-budget.ts';
import type { ResolvedRequest } from './resolve-request.ts';
import { type ScheduledBatch, type ScheduledRow, Scheduler } from './scheduler.ts';
import { Sequence } from './sequence.ts';
import { EngineError, type EngineEvent, type StepSample } from './types.ts';

/**
 * Runs one model inside the engine worker: the scheduler decides each step, the runner computes
 * it, and each row's decoder turns its logits into the next input. The executor never branches on
 * a decoding mode: every row is a sequence of weighted-bag inputs.
 */

export interface ExecutorLimits {
  maxNumSeqs: number;
  maxBatchedTokens: number;
  /** Resolved (see kv-budget.ts). */
  kvBudgetBytes: number;
  maxModelLen: number;
  prefixCache: boolean;
  /** Flow control: events a request may send before its reader grants more (see FlowControl). */
  maxBufferedEvents: number;
}

/** What an executor may use besides its model (all optional). */
export interface ExecutorServices {
  /** Compiles structured-output constraints; without it such requests are refused. */
  structured?: StructuredOutputCompiler | null;
  /** Called when work arrives outside a message (a constraint finished compiling). */
  onWork?: () => void;
}

interface RequestState {
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
  live: number;
  /** Events it may still send before its reader grants more (flow control). */
  credit: number;
  /** Out of credit: its sequences stay out of the batches, KV kept, until credit comes. */
  paused: boolean;
}

export type EmitFn = (requestId: string, events: EngineEvent[]) => void;

export class ModelExecutor {
  readonly scheduler: Scheduler;
  readonly #runner: ModelRunner;
  readonly #ctx: DecodeContext;
  readonly #limits: ExecutorLimits;
  readonly #emit: EmitFn;
  readonly #requests = new Map<string, RequestState>();
  readonly #pending = new Map<string, EngineEvent[]>();
  readonly #services: ExecutorServices;
  /** Requests whose constraint is compiling: not scheduled yet (vLLM's WAITING_FOR_FSM). */
  readonly #compiling = new Set<string>();
  #nextSeq = 1;
  #arrivals = 0;
  /** Prefill positions computed (prefix-cache hits skip these): counted for tests and metrics. */
  prefillPositions = 0;
  /** Cumulative milliseconds of whole steps (schedule, feeds, forward, decoders). */
  stepMs = 0;
  /** Steps that ran a forward since the worker last reported (it drains them into its message). */
  steps: StepSample[] = [];
  /** A step is in flight (see #applyFrees). */
  #stepping = false;
  /** Requests paused or resumed while a step was in flight: applied when it ends (see `pause`). */
  readonly #pauseChanged = new Set<RequestState>();

  constructor(
    runner: ModelRunner,
    ctx: DecodeContext,
    limits: ExecutorLimits,
    emit: EmitFn,
    services: ExecutorServices = {},
  ) {
    this.#services = services;
    this.#runner = runner;
    this.#ctx = ctx;
    this.#limits = limits;
    this.#emit = emit;
    const kvCapacityBlocks = Math.floor(
      limits.kvBudgetBytes / (kvBytesPerPosition(runner.config) * KV_BLOCK),
    );
    this.scheduler = new Scheduler({
      maxNumSeqs: limits.maxNumSeqs,
      maxBatchedTokens: limits.maxBatchedTokens,
      kvCapacityBlocks,
      prefixCache: limits.prefixCache,
      prefixCacheBlocks: Math.floor(kvCapacityBlocks * PREFIX_CACHE_SHARE),
    });
  }

  /** Bytes of KV the runner holds (sequences and prefix-cache entries). */
  kvBytes(): number {
    return this.#runner.kv.bytes();
  }

  hasWork(): boolean {
    return this.scheduler.hasWork();
  }

  /** Queues a request resolved on the main thread (its structured-output constraint compiles first). */
  submit(req: ResolvedRequest, now: number): void {
    if (this.#requests.has(req.id) || this.#compiling.has(req.id)) {
      this.#emit(req.id, [
        { type: 'error', error: new EngineError('invalid_value', `duplicate request id ${req.id}`) },
      ]);
      return;
    }
    const params = req.params;
    const spec = params.structuredOutput;
    if (!spec) {
      this.#admit(req, params, [], now);
      return;
    }
    const compiler = this.#services.structured;
    if (!compiler) {
      this.#emit(req.id, [
        {
          type: 'error',
          error: new EngineError(
            'invalid_value',
            'structured outputs are not available here',
            'structured_output',
          ),
        },
      ]);
      return;
    }
    // The request waits, unscheduled, while its constraint compiles; a cancel meanwhile drops it.
    this.#compiling.add(req.id);
    compiler.constraints(spec, params.n, [...stopIds(this.#ctx, params).stops]).then(
      (constraints) => {
        if (!this.#compiling.delete(req.id)) {
          for (const c of constraints) c.dispose();
          return;
        }
        try {
          this.#admit(req, params, constraints, now);
        } catch (err) {
          for (const c of constraints) c.dispose();
          this.#emit(req.id, [{ type: 'error', error: toEngineError(err) }]);
        }
        this.#services.onWork?.();
      },
      (err: unknown) => {
        if (!this.#compiling.delete(req.id)) return;
        this.#emit(req.id, [{ type: 'error', error: toEngineError(err) }]);
        this.#services.onWork?.();
      },
    );
  }

  /** Queues a validated request (its constraints compiled, when it has any). */
  #admit(req: ResolvedRequest, params: ResolvedDecodingParams, constraints: TokenConstraint[], now: number) {
    const promptIds = Int32Array.from(req.prompt);
    const seq = new Sequence(
      this.#nextSeq++,
      req.id,
      this.#arrivals++,
      promptIds,
      this.#decoder(params, req, 0, constraints),
    );
    this.#requests.set(req.id, {
      req,
      params,
      constraints,
      seqs: [seq],
      toFork: params.n - 1,
      submittedAt: now,
      scheduledAt: null,
      prefillDoneAt: null,
      firstTokenAt: null,
      completionTokens: 0,
      reasoningTokens: 0,
      cachedTokens: 0,
      preemptions: 0,
      live: 1,
      credit: this.#limits.maxBufferedEvents,
      paused: false,
    });
    this.scheduler.add(seq);
  }

  /** Cancels a request: its sequences leave the scheduler and their KV is freed before the next step. */
  cancel(requestId: string): void {
    if (this.#compiling.delete(requestId)) {
      this.#emit(requestId, [
        { type: 'error', error: new EngineError('cancelled', 'the request was cancelled') },
      ]);
      return;
    }
    const state = this.#requests.get(requestId);
    if (!state) return;
    this.#fail(state, new EngineError('cancelled', 'the request was cancelled'));
    this.#applyFrees();
    this.#flush();
  }

  /**
   * Flow control: the request's reader took `events` more. A request that has used up its credit
   * is paused (its sequences leave the batches and keep their KV, see Scheduler.paused) and
   * resumes here.
   */
  credit(requestId: string, events: number): void {
    const state = this.#requests.get(requestId);
    if (!state) return;
    state.credit += events;
    if (state.paused && state.credit > 0) this.#setPaused(state, false);
  }

  /** While a step is in flight a change waits for its end: the step's rows must still reach their decoders. */
  #setPaused(state: RequestState, paused: boolean): void {
    state.paused = paused;
    if (this.#stepping) this.#pauseChanged.add(state);
    else this.#applyPause(state);
  }

  #applyPause(state: RequestState): void {
    for (const seq of state.seqs) {
      if (state.paused) this.scheduler.pause(seq);
      else this.scheduler.resume(seq);
    }
  }

  /** Fails every live request (engine shutting down or broken). */
  failAll(error: EngineError): void {
    for (const id of this.#compiling) this.#emit(id, [{ type: 'error', error }]);
    this.#compiling.clear();
    for (const state of [...this.#requests.values()]) this.#fail(state, error);
    this.#applyFrees();
    this.#flush();
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
      this.#applyFrees();
      this.#flush();
      this.stepMs += now() - started;
    }
  }

  /** Cumulative milliseconds the runner spent in `session.run`. */
  get forwardMs(): number {
    return this.#runner.runMs;
  }

  async #step(now: () => number): Promise<void> {
    const batch = this.scheduler.schedule();
    for (const seq of batch.rejected) {
      const state = this.#requests.get(seq.requestId);
      if (state)
        this.#fail(
          state,
          new EngineError(
            'invalid_value',
            'the request needs more KV cache than the whole budget',
            'max_tokens',
          ),
        );
    }
    for (const seq of batch.preempted) {
      const state = this.#requests.get(seq.requestId);
      if (state) state.preemptions++;
    }
    for (const seq of batch.admitted) {
      const state = this.#requests.get(seq.requestId);
      if (!state) continue;
      state.cachedTokens = Math.max(state.cachedTokens, seq.cachedTokens);
      if (state.scheduledAt === null) {
        state.scheduledAt = now();
        this.#queue(state.req.id, { type: 'scheduled' });
      }
    }
    this.#applyKvPlan(batch);
    if (batch.rows.length > 0) {
      const rows = batch.rows.map((r) => this.#rowStep(r));
      let positions = 0;
      for (const r of batch.rows) {
        positions += r.count;
        this.prefillPositions += Math.max(0, Math.min(r.start + r.count, r.seq.promptIds.length) - r.start);
      }
      this.steps.push({ rows: rows.length, positions });
      try {
        const result = await this.#runner.step(rows);
        this.scheduler.advance(batch);
        batch.rows.forEach((row, i) => {
          if (row.seq.status !== 'running' || row.seq.pending > 0) return; // cancelled meanwhile, or more prompt to go
          this.#afterRow(
            row,
            { logits: rowLogits(result, result.offsets[i]!), hidden: rowHidden(result, result.offsets[i]!) },
            now,
          );
        });
      } catch (err) {
        // A failed forward fails the requests in it; the engine and everyone else carry on.
        const error = new EngineError('internal_error', `forward pass failed: ${(err as Error).message}`);
        for (const row of batch.rows) {
          const state = this.#requests.get(row.seq.requestId);
          if (state) this.#fail(state, error);
        }
      }
    }
  }

  #decoder(
    params: ResolvedDecodingParams,
    req: ResolvedRequest,
    choiceIndex: number,
    constraints: TokenConstraint[],
  ) {
    return createDecoder(params, this.#ctx, {
      startsInThinking: req.startsInThinking,
      choiceIndex,
      promptIds: req.prompt,
      constraint: constraints[choiceIndex] ?? null,
    });
  }

  #applyKvPlan(batch: ScheduledBatch): void {
    // Copies first: an entry evicted in this same plan is still there to copy from.
    for (const c of batch.copies) this.#runner.kv.share(c.from, c.to, c.length);
    for (const id of batch.frees) this.#runner.kv.free(id);
  }

  /**
   * Frees KV released outside `schedule` (finished, cancelled): right away between steps, at the
   * end of the step while one is in flight. ORT yields to the event loop before it runs, so a
   * cancel can arrive mid-step, and the runner then still appends that row's new KV: freeing it
   * first would leave the appended KV behind for good.
   */
  #applyFrees(): void {
    if (this.#stepping) return;
    for (const id of this.scheduler.takeFrees()) this.#runner.kv.free(id);
  }

  /** The row's inputs for positions [start, start+count): prompt ids or the fed bags, as recorded. */
  #rowStep({ seq, start, count }: ScheduledRow): RowStep {
    const D = this.#runner.config.hiddenSize;
    const prompt = seq.promptIds.length;
    if (start + count <= prompt) {
      return { seq: seq.id, count, bagSize: 1, ids: seq.promptIds.subarray(start, start + count) };
    }
    const inputAt = (pos: number): BagInput =>
      pos < prompt
        ? { ids: seq.promptIds.subarray(pos, pos + 1), weights: ONE }
        : seq.generated[pos - prompt]!;
    let bagSize = 1;
    let hasAdd = false;
    for (let p = start; p < start + count; p++) {
      const input = inputAt(p);
      bagSize = Math.max(bagSize, input.ids.length);
      hasAdd ||= input.add !== undefined;
    }
    const ids = new Int32Array(count * bagSize);
    const weights = new Float32Array(count * bagSize);
    const add = hasAdd ? new Float32Array(count * D) : undefined;
    for (let p = start; p < start + count; p++) {
      const input = inputAt(p);
      const o = (p - start) * bagSize;
      ids.set(input.ids, o);
      weights.set(input.weights, o);
      if (add && input.add) add.set(input.add, (p - start) * D);
    }
    return { seq: seq.id, count, bagSize, ids, weights, add };
  }

  #afterRow(row: ScheduledRow, out: { logits: Float32Array; hidden: Float32Array }, now: () => number): void {
    const { seq } = row;
    const state = this.#requests.get(seq.requestId);
    if (!state) return;
    const promptDone = row.start < seq.promptIds.length;
    if (promptDone) {
      state.prefillDoneAt ??= now();
      const copy = this.scheduler.cachePrompt(seq);
      // A copy of just the entry's blocks: sharing would keep the whole prompt buffer alive (a
      // chunk's positions, not whole blocks) beyond what the budget counts for the entry.
      if (copy) this.#runner.kv.fork(copy.from, copy.to, copy.length);
      if (state.toFork > 0 && seq === state.seqs[0]) this.#forkSamples(state, seq, out, now);
    }
    this.#decode(state, seq, out, now);
  }

  /**
   * n > 1: the other samples share the first one's prompt KV (`kv.share`: they read its buffers,
   * no copy) and start from the same logits.
   */
  #forkSamples(
    state: RequestState,
    parent: Sequence,
    out: { logits: Float32Array; hidden: Float32Array },
    now: () => number,
  ): void {
    const children: Sequence[] = [];
    for (let i = 1; i <= state.toFork; i++) {
      const child = new Sequence(
        this.#nextSeq++,
        state.req.id,
        this.#arrivals++,
        parent.promptIds,
        this.#decoder(state.params, state.req, i, state.constraints),
      );
      this.#runner.kv.share(parent.id, child.id, parent.computed);
      child.computed = parent.computed;
      if (!this.scheduler.addRunning(child)) {
        // No KV room now: the sample waits and recomputes its prompt later, like a preempted one.
        this.#runner.kv.free(child.id);
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

  #decode(
    state: RequestState,
    seq: Sequence,
    out: { logits: Float32Array; hidden: Float32Array },
    now: () => number,
  ): void {
    let result: ReturnType<NonNullable<Sequence['decoder']>['next']>;
    try {
      result = seq.decoder!.next(out);
    } catch (err) {
      this.#fail(state, new EngineError('internal_error', `decoding failed: ${(err as Error).message}`));
      return;
    }
    for (const ev of result.events) {
      if (
        (ev.type === 'reasoning' || ev.type === 'content' || ev.type === 'drafts') &&
        state.firstTokenAt === null
      )
        state.firstTokenAt = now();
      if (ev.type === 'finish') {
        state.completionTokens += ev.usage.completionTokens;
        state.reasoningTokens += ev.usage.reasoningTokens;
      }
      this.#queue(state.req.id, ev as DecodeEvent);
    }
    if (result.input) seq.generated.push(result.input);
    if (result.finished) {
      this.scheduler.finish(seq);
      state.live--;
      if (state.live === 0) this.#complete(state, now());
    }
  }

  #complete(state: RequestState, t: number): void {
    const ms = (x: number | null) => (x === null ? t - state.submittedAt : x - state.submittedAt);
    this.#queue(state.req.id, {
      type: 'done',
      usage: {
        promptTokens: state.req.prompt.length,
        completionTokens: state.completionTokens,
        reasoningTokens: state.reasoningTokens,
        cachedTokens: state.cachedTokens,
      },
      timings: {
        queueMs: ms(state.scheduledAt),
        prefillMs: (state.prefillDoneAt ?? t) - (state.scheduledAt ?? t),
        firstTokenMs: ms(state.firstTokenAt),
        totalMs: t - state.submittedAt,
      },
      preemptions: state.preemptions,
    });
    this.#requests.delete(state.req.id);
    for (const c of state.constraints) c.dispose();
  }

  #fail(state: RequestState, error: EngineError): void {
    for (const seq of state.seqs) if (seq.status !== 'finished') this.scheduler.finish(seq);
    this.#requests.delete(state.req.id);
    for (const c of state.constraints) c.dispose();
    this.#queue(state.req.id, { type: 'error', error });
  }

  #queue(id: string, ev: EngineEvent): void {
    const state = this.#requests.get(id);
    if (state && --state.credit <= 0 && !state.paused) this.#setPaused(state, true);
    let list = this.#pending.get(id);
    if (!list) this.#pending.set(id, (list = []));
    list.push(ev);
  }

  #flush(): void {
    for (const [id, events] of this.#pending) this.#emit(id, events);
    this.#pending.clear();
  }
}

const ONE = Float32Array.of(1);

function toEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  if (err instanceof StructuredOutputError) return new EngineError('invalid_value', err.message, err.param);
  return new EngineError('internal_error', (err as Error).message);
}
